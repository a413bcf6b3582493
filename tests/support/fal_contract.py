"""fal's input schemas (tests/support/contracts/fal_schemas.yaml) as validators, and fal's way of refusing a body:
`{"detail": [{"loc": ["body", field, ...], "msg": ..., "type": ...}]}` (pydantic's error list, 422).

The table is compact (type, required, enum, min/max, lengths, items, fields per field); it becomes JSON
Schema here, with unknown fields refused, and the jsonschema library does the checking."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from runapi.yamlload import load_yaml

SCHEMAS_PATH = Path(__file__).with_name("contracts") / "fal_schemas.yaml"
FIELD_KEYS = {
    "type",
    "required",
    "enum",
    "min",
    "max",
    "min_length",
    "max_length",
    "min_items",
    "max_items",
    "items",
    "fields",
}
TYPES = {"string", "integer", "number", "boolean", "array", "object", "any"}


def _alternative(kind: str, spec: dict[str, Any], where: str) -> dict[str, Any]:
    if kind not in TYPES:
        raise ValueError(f"{where}: unknown type {kind!r}")
    if kind == "any":
        return {}
    out: dict[str, Any] = {"type": kind}
    if kind == "string":
        if "enum" in spec:
            out["enum"] = [str(v) for v in spec["enum"]]
        if "min_length" in spec:
            out["minLength"] = spec["min_length"]
        if "max_length" in spec:
            out["maxLength"] = spec["max_length"]
    elif kind in ("integer", "number"):
        if "min" in spec:
            out["minimum"] = spec["min"]
        if "max" in spec:
            out["maximum"] = spec["max"]
    elif kind == "array":
        if "items" in spec:
            out["items"] = field_schema(spec["items"], f"{where}[]")
        if "min_items" in spec:
            out["minItems"] = spec["min_items"]
        if "max_items" in spec:
            out["maxItems"] = spec["max_items"]
    elif kind == "object" and "fields" in spec:
        out.update(object_schema(spec["fields"], where))
    return out


def field_schema(spec: dict[str, Any], where: str) -> dict[str, Any]:
    unknown = set(spec) - FIELD_KEYS
    if unknown or "type" not in spec:
        raise ValueError(f"{where}: a field needs a type and knows {sorted(FIELD_KEYS)}, got {sorted(spec)}")
    kinds = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
    alternatives = [_alternative(k, spec, where) for k in kinds]
    return alternatives[0] if len(alternatives) == 1 else {"anyOf": alternatives}


def object_schema(fields: dict[str, Any], where: str) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {name: field_schema(spec, f"{where}.{name}") for name, spec in fields.items()},
        "required": [name for name, spec in fields.items() if spec.get("required")],
    }


@cache
def schemas() -> dict[str, dict[str, Any]]:
    """Endpoint id → its compact field table."""
    return dict(load_yaml(SCHEMAS_PATH))


@cache
def validator(endpoint: str) -> Draft202012Validator | None:
    fields = schemas().get(endpoint)
    if fields is None:
        return None
    schema = object_schema(fields, endpoint)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


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
    check = validator(endpoint)
    if check is None:
        return None
    return [
        d for e in sorted(check.iter_errors(body), key=lambda e: [str(k) for k in e.absolute_path]) for d in _detail(e)
    ]
