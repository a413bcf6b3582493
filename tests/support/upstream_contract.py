"""The providers' request contracts (tests/support/contracts/<kind>_schemas.yaml) as validators: one compact
table format for all (type, required, enum, min/max, lengths, items, fields per field) that becomes JSON Schema
here, unknown fields refused, and the jsonschema library does the checking. Top-level keys starting with "_"
hold anchors and a provider's extra rules (which its fake checks itself); `_base: <other>_schemas.yaml` makes a
table override the fields of another (sunoapi.org over kie's Suno). Each provider's own way of refusing a body
(fal's pydantic list, kie's envelope, Google's words) stays in its own module. Multipart forms (Ideogram,
Recraft) are read into the same JSON-like body first (`form_body`)."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from runapi.yamlload import load_yaml

CONTRACTS = Path(__file__).with_name("contracts")
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
def _raw(kind: str) -> dict[str, Any]:
    return dict(load_yaml(CONTRACTS / f"{kind}_schemas.yaml"))


@cache
def _table(kind: str) -> dict[str, dict[str, Any]]:
    raw = _raw(kind)
    base = raw.get("_base")
    table = dict(_table(Path(base).name.removesuffix("_schemas.yaml"))) if base else {}
    for key, fields in raw.items():
        if not key.startswith("_"):
            table[key] = {**table.get(key, {}), **fields}
    return table


def schemas(kind: str) -> dict[str, dict[str, Any]]:
    """Endpoint or model id → its compact field table."""
    return dict(_table(kind))


def rules(kind: str, name: str) -> dict[str, Any]:
    """One of the extra rule tables (e.g. ark's `_image_sizes`), keyed by endpoint or model id."""
    return dict(_raw(kind).get(name) or {})


@cache
def validator(kind: str, key: str, numeric_enums: bool = False) -> Draft202012Validator | None:
    """The endpoint's validator, None when the contract has no such endpoint. `numeric_enums`: a top-level
    number field's `enum` is checked too (kie's Runway `duration`: 5 or 10; other tables ignore them)."""
    fields = schemas(kind).get(key)
    if fields is None:
        return None
    schema = object_schema(fields, f"{kind}:{key}")
    if numeric_enums:
        for name, spec in fields.items():
            kinds = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
            if "enum" in spec and "string" not in kinds:
                schema["properties"][name] = {"enum": list(spec["enum"]), **schema["properties"][name]}
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def sorted_errors(check: Draft202012Validator, body: Any) -> list[ValidationError]:
    return sorted(check.iter_errors(body), key=lambda e: [str(k) for k in e.absolute_path])


def violations(kind: str, key: str, body: Any, numeric_enums: bool = False) -> list[ValidationError] | None:
    """What the provider's schema refuses in `body` (empty when valid); None when it has no such endpoint."""
    check = validator(kind, key, numeric_enums)
    return None if check is None else sorted_errors(check, body)


def line(error: ValidationError) -> str:
    """One refusal as "field.path: reason" ("body" for the whole body)."""
    return f"{'.'.join(str(p) for p in error.absolute_path) or 'body'}: {error.message}"


def problems(kind: str, key: str, body: Any, numeric_enums: bool = False) -> list[str] | None:
    """What the provider's contract refuses in this body, as "field.path: reason" (empty when valid); None when
    the contract has no such endpoint."""
    found = violations(kind, key, body, numeric_enums)
    return None if found is None else [line(e) for e in found]


FILE = "<file>"  # a file part, in a form read as a body


def multipart_parts(content_type: str, content: bytes) -> list[tuple[str, str | bytes]]:
    """The parts of a multipart/form-data body in order: (name, text) for a plain field, (name, bytes) for a
    file part (one with a filename)."""
    message = BytesParser(policy=policy.HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + content)
    parts: list[tuple[str, str | bytes]] = []
    for part in message.iter_parts():
        name = str(part.get_param("name", header="content-disposition"))
        payload = part.get_payload(decode=True) or b""
        is_file = part.get_param("filename", header="content-disposition") is not None
        parts.append((name, payload if is_file else payload.decode()))
    return parts


def form_body(kind: str, endpoint: str, parts: list[tuple[str, str | bytes]]) -> dict[str, Any]:
    """A form's parts as the JSON-like body the contract checks: a file part becomes FILE, an array field
    gathers its repeated parts, boolean, integer and number fields are read as such (left as text when they are not
    one, so the check refuses them)."""
    fields = schemas(kind).get(endpoint) or {}
    body: dict[str, Any] = {}
    for name, raw in parts:
        spec = fields.get(name, {})
        value: Any = FILE if isinstance(raw, bytes) else raw
        kinds = spec.get("type") if isinstance(spec.get("type"), list) else [spec.get("type")]
        if isinstance(value, str) and "boolean" in kinds and value in ("true", "false"):
            value = value == "true"
        if isinstance(value, str) and value != FILE:
            for cast in (int if "integer" in kinds else None, float if "number" in kinds else None):
                if cast is not None:
                    try:
                        value = cast(value)
                        break
                    except ValueError:
                        pass
        if "array" in kinds:
            body.setdefault(name, []).append(value)
        elif name in body:
            body[name] = [body[name], value] if not isinstance(body[name], list) else [*body[name], value]
        else:
            body[name] = value
    return body
