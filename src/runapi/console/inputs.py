"""Reading the management forms' fields (keys, guardrails, credits): text in, typed values out, refusals as
the services' own domain error (InvalidInput, shown next to the form). The rules on what may change stay in
the services; this only turns form text into the values the API's JSON would have carried."""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import FormData

from ..errors import InvalidInput
from ..ratelimit.policy import FIELDS as RATE_FIELDS
from ..store.schema import BIGINT_MAX


def text(data: FormData, name: str, max_length: int = 200) -> str | None:
    """A trimmed text field; None when blank."""
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    if len(value) > max_length:
        raise InvalidInput(f"{name} must be at most {max_length} characters (got {len(value)})")
    return value


def cents(data: FormData, name: str, positive: bool = False) -> int | None:
    """Whole cents; None when blank."""
    raw = text(data, name, 40)
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit():
        raise InvalidInput(f"{name} must be a whole number of cents")
    value = int(raw)
    if value > BIGINT_MAX:
        raise InvalidInput(f"{name} must be at most {BIGINT_MAX} cents")
    if positive and value < 1:
        raise InvalidInput(f"{name} must be at least 1 cent")
    return value


def credit_limit(data: FormData) -> dict[str, Any]:
    """A credit limit and its window (keys and guardrails); a window without an amount means nothing, so it is
    dropped (the form's select keeps its value when the amount is cleared)."""
    limit = cents(data, "credit_limit_cents")
    window = text(data, "credit_limit_reset_interval") if limit is not None else None
    return {"credit_limit_cents": limit, "credit_limit_reset_interval": window}


def rate(data: FormData, name: str) -> Any:
    """A rate limit as the API's JSON would carry it: blank is None (no limit), digits the integer, anything else
    the text itself, for the API's own check (api/management.check_rate) to refuse in its own words."""
    raw = text(data, name, 40)
    if raw is None:
        return None
    return int(raw) if raw.isascii() and raw.isdigit() else raw


def rate_limits(data: FormData) -> dict[str, Any]:
    """rpm_limit, tpm_limit, max_parallel_requests (keys and guardrails)."""
    return {f: rate(data, f) for f in RATE_FIELDS}


def string_list(data: FormData, name: str) -> list[str] | None:
    """Ids separated by commas or new lines; None when blank (no list)."""
    raw = data.get(name)
    if not isinstance(raw, str):
        return None
    items = [item.strip() for line in raw.splitlines() for item in line.split(",")]
    found = list(dict.fromkeys(item for item in items if item))
    if any(len(item) > 200 for item in found):
        raise InvalidInput(f"{name}: each entry must be at most 200 characters")
    return found or None


def checkbox(data: FormData, name: str) -> bool:
    return data.get(name) in ("on", "true", "1")


def json_value(data: FormData, name: str) -> Any:
    """A JSON field (e.g. model budgets); None when blank."""
    raw = text(data, name, 20_000)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be valid JSON") from None


def changed(current: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """The fields whose value differs from the stored one: an edit form sends every field, but the services
    decide ownership by what a change touches (a member resubmitting an admin's untouched limit is no change)."""
    return {k: v for k, v in wanted.items() if current.get(k) != v}
