"""The price the MCP tools quote for a model: `get_model_info` and `check_pricing` answer with
`{"price": {"price_schedule": {...}}}` as the platform's server does with its Price Schedule API.

Until this server has price schedules of its own, the schedule is read from the catalog price the create
path charges (`ModelSpec.quote`, what the reservation is): `unit_price_cents` is the catalog's base price
per unit, `request_price_cents` what a create with the model's defaults reserves. `price_for` is the one
function to swap for a price schedule service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .contract import ModelEntry

PRICING_SOURCE = "catalog"


@dataclass(frozen=True)
class PriceSchedule:
    service: str
    action: str
    model: str
    unit_price_cents: int  # per `unit`
    unit: str  # "request", or the parameter the price multiplies by (e.g. "duration_seconds")
    request_price_cents: int  # what a create with the model's defaults reserves
    price_by: dict[str, dict[str, int]]  # parameter → value → unit price replacing the base one

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "service": self.service,
            "action": self.action,
            "model": self.model,
            "unit_price_cents": self.unit_price_cents,
            "unit": self.unit,
            "request_price_cents": self.request_price_cents,
        }
        if self.price_by:
            out["price_by"] = self.price_by
        return out


def default_params(entry: ModelEntry) -> dict[str, Any]:
    """The request a create with nothing optional sent would price: the model and every unconditional default."""
    params: dict[str, Any] = {
        p.name: p.default
        for p in entry.model.params.values()
        if p.default is not None
        and p.default_when is None
        and (p.only_models is None or entry.model.id in p.only_models)
    }
    params["model"] = entry.model.id
    return params


def price_for(entry: ModelEntry) -> PriceSchedule:
    price = entry.model.price
    return PriceSchedule(
        service=entry.service,
        action=entry.action_name,
        model=entry.model.id,
        unit_price_cents=price.cents,
        unit=price.per or "request",
        request_price_cents=entry.model.quote(default_params(entry)),
        price_by={param: {str(k): v for k, v in table.items()} for param, table in price.by.items()},
    )


def price_answer(entry: ModelEntry) -> dict[str, Any]:
    """The `price` member of get_model_info and check_pricing."""
    return {"price_schedule": price_for(entry).as_dict(), "pricing_source": PRICING_SOURCE}
