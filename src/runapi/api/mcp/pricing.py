"""The `price` member of get_model_info and check_pricing: the model's entry of the price schedules (what GET
/api/v1/price_schedules lists, pricing/schedules.py), as the platform's tools answer with their runtime
schedule lookup: `{"as_of": ..., "price_schedule": {...}}`, or `{"error": ...}` when there is none."""

from __future__ import annotations

from typing import Any

from ...errors import RunapiError
from ...pricing import schedules
from .contract import ModelEntry


def price_answer(entry: ModelEntry) -> dict[str, Any]:
    try:
        found = schedules.list_schedules(entry.action.family, entry.action.name, entry.model.id)
    except RunapiError as exc:  # not priced: the catalog and the schedules disagree
        return {"error": f"Runtime pricing is unavailable: {exc.message}"}
    if not found.price_schedules:
        return {"error": "Runtime pricing is unavailable: no price schedule for this model"}
    return {"as_of": found.as_of, "price_schedule": found.price_schedules[0].as_json()}
