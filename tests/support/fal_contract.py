"""fal's input schemas (tests/support/contracts/fal_schemas.yaml) as validators, and fal's way of refusing a body:
`{"detail": [{"loc": ["body", field, ...], "msg": ..., "type": ...}]}` (pydantic's error list, 422).

The compact table is read by tests.support.upstream_contract (unknown fields refused)."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from tests.support import upstream_contract


def schemas() -> dict[str, dict[str, Any]]:
    """Endpoint id → its compact field table."""
    return upstream_contract.schemas("fal")


def validator(endpoint: str) -> Draft202012Validator | None:
    return upstream_contract.validator("fal", endpoint)


def _detail(error: ValidationError) -> list[dict[str, Any]]:
    """One jsonschema error in pydantic's words (the shape fal answers with)."""
    loc = ["body", *error.absolute_path]
    kind, value = error.validator, error.validator_value
    if kind == "required":
        missing = error.message.split("'")[1]
        return [{"loc": [*loc, missing], "msg": "Field required", "type": "missing"}]
    if kind == "additionalProperties":
        known = set(error.schema.get("properties", {}))
        return [
            {"loc": [*loc, extra], "msg": "Extra inputs are not permitted", "type": "extra_forbidden"}
            for extra in error.instance
            if extra not in known
        ]
    if kind == "enum":
        allowed = ", ".join(repr(v) for v in value)
        return [{"loc": loc, "msg": f"Input should be one of {allowed}", "type": "enum"}]
    if kind == "type":
        return [{"loc": loc, "msg": f"Input should be a valid {value}", "type": f"{value}_type"}]
    words = {
        "minimum": ("greater_than_equal", "greater than or equal to"),
        "maximum": ("less_than_equal", "less than or equal to"),
        "minLength": ("string_too_short", "at least this many characters:"),
        "maxLength": ("string_too_long", "at most this many characters:"),
        "minItems": ("too_short", "at least this many items:"),
        "maxItems": ("too_long", "at most this many items:"),
    }
    if kind in words:
        name, text = words[kind]
        return [{"loc": loc, "msg": f"Input should be {text} {value}", "type": name}]
    return [{"loc": loc, "msg": error.message, "type": str(kind)}]  # anyOf and the like


def refusals(endpoint: str, body: Any) -> list[dict[str, Any]] | None:
    """fal's 422 detail list for this body (empty when it is valid); None when fal has no such endpoint."""
    found = upstream_contract.violations("fal", endpoint, body)
    return None if found is None else [d for e in found for d in _detail(e)]
