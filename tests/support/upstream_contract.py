"""A provider's request schemas (tests/support/contracts/<kind>_schemas.yaml) as validators: the same compact format
as fal's (built by tests.support.fal_contract.object_schema, unknown fields refused); top-level keys starting with
"_" hold anchors and the provider's extra rules, which the fakes check themselves. Multipart forms (Ideogram,
Recraft) are read into the same JSON-like body first."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from runapi.yamlload import load_yaml
from tests.support.fal_contract import object_schema

CONTRACTS = Path(__file__).with_name("contracts")


@cache
def _raw(kind: str) -> dict[str, Any]:
    return dict(load_yaml(CONTRACTS / f"{kind}_schemas.yaml"))


def schemas(kind: str) -> dict[str, dict[str, Any]]:
    """Endpoint or model id → its compact field table."""
    return {k: v for k, v in _raw(kind).items() if not k.startswith("_")}


def rules(kind: str, name: str) -> dict[str, Any]:
    """One of the extra rule tables (e.g. ark's `_image_sizes`), keyed by endpoint or model id."""
    return dict(_raw(kind).get(name) or {})


@cache
def validator(kind: str, key: str) -> Draft202012Validator | None:
    fields = schemas(kind).get(key)
    if fields is None:
        return None
    schema = object_schema(fields, f"{kind}:{key}")
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def violations(kind: str, key: str, body: Any) -> list[ValidationError] | None:
    """What the provider's schema refuses in `body` (empty when valid); None when it has no such endpoint."""
    check = validator(kind, key)
    if check is None:
        return None
    return sorted(check.iter_errors(body), key=lambda e: [str(k) for k in e.absolute_path])


def problems(kind: str, endpoint: str, body: Any) -> list[str] | None:
    """What the provider would refuse in this body ("field: message"; empty when valid); None when the provider
    has no such endpoint."""
    found = violations(kind, endpoint, body)
    if found is None:
        return None
    return [f"{'.'.join(str(k) for k in e.absolute_path) or '(body)'}: {e.message}" for e in found]


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
