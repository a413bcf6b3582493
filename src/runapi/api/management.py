"""Shared pieces of the management APIs (keys, guardrails, assignments): who may call, field checks, times."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request

from ..auth.keys import INTERVALS
from ..auth.principal import Principal
from ..errors import RECORD_NOT_FOUND, ApiError
from ..ratelimit.policy import MAX_LIMIT
from ..store.schema import BIGINT_MAX
from .context import authenticated

NOT_FOUND = RECORD_NOT_FOUND
MISSING = object()  # "the request did not carry this field" (unlike an explicit null)


async def manager(request: Request) -> Principal:
    """The caller must hold a management key: API keys generate, management keys manage."""
    who = await authenticated(request)
    if who.kind != "management":
        raise ApiError(403, "This endpoint requires a management key")
    return who


def not_found() -> ApiError:
    return ApiError(404, NOT_FOUND)


def body_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, "Request body must be a JSON object")
    return body


def opt_string(body: dict[str, Any], name: str, max_length: int = 200) -> Any:
    value = body.get(name, MISSING)
    if value is MISSING or value is None:
        return value
    if not isinstance(value, str):
        raise ApiError(422, f"Invalid type for {name}: expected a string")
    if len(value) > max_length:
        raise ApiError(422, f"{name} must be at most {max_length} characters (got {len(value)})")
    return value


def opt_bool(body: dict[str, Any], name: str) -> Any:
    value = body.get(name, MISSING)
    if value is MISSING:
        return value
    if not isinstance(value, bool):
        raise ApiError(422, f"Invalid type for {name}: expected a boolean")
    return value


def _optional_limit(body: dict[str, Any], name: str, check: Callable[[Any, str], int]) -> Any:
    """MISSING when absent, None for null or "" ("no limit", documented for PATCH), else the checked value."""
    value = body.get(name, MISSING)
    if value is MISSING:
        return value
    if value is None or value == "":
        return None
    return check(value, name)


def opt_cents(body: dict[str, Any], name: str) -> Any:
    """Integer cents ≥ 0; null or "" mean "no limit"."""
    return _optional_limit(body, name, check_cents)


def check_cents(value: Any, name: str) -> int:
    """A non-negative integer number of cents that fits the database's BIGINT."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ApiError(422, f"{name} must be a non-negative integer number of cents")
    if value > BIGINT_MAX:
        raise ApiError(422, f"{name} must be at most {BIGINT_MAX} cents")
    return value


def opt_rate(body: dict[str, Any], name: str) -> Any:
    """A rate limit: a positive integer that fits the INTEGER column; null or "" mean "no limit"."""
    return _optional_limit(body, name, check_rate)


def check_rate(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ApiError(422, f"{name} must be a positive integer (or null for no limit)")
    if value > MAX_LIMIT:
        raise ApiError(422, f"{name} must be at most {MAX_LIMIT}")
    return value


def opt_interval(body: dict[str, Any], name: str = "credit_limit_reset_interval") -> Any:
    value = body.get(name, MISSING)
    if value is MISSING or value is None:
        return value
    if value not in INTERVALS:
        raise ApiError(422, f"Invalid value for {name}: {value!r}. Allowed values: {', '.join(INTERVALS)}")
    return value


def opt_string_list(body: dict[str, Any], name: str) -> Any:
    """A list of strings; null or [] clear it (stored as None)."""
    value = body.get(name, MISSING)
    if value is MISSING:
        return value
    if value is None or value == []:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ApiError(422, f"{name} must be an array of strings")
    return list(dict.fromkeys(value))


def given(values: dict[str, Any]) -> dict[str, Any]:
    """The fields the request actually carried (omitted ones keep their stored value)."""
    return {k: v for k, v in values.items() if v is not MISSING}
