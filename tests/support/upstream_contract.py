"""The request contracts of the first-party media upstreams (tests/support/contracts/<kind>_schemas.yaml, the
compact format fal_schemas.yaml describes) as validators: unknown fields are refused, like fal's."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from runapi.yamlload import load_yaml
from tests.support.fal_contract import object_schema

CONTRACTS = Path(__file__).with_name("contracts")


@cache
def schemas(kind: str) -> dict[str, dict[str, Any]]:
    """Endpoint (or endpoint/model) → its compact field table (keys starting with "_" hold YAML anchors only)."""
    return {k: v for k, v in load_yaml(CONTRACTS / f"{kind}_schemas.yaml").items() if not k.startswith("_")}


@cache
def validator(kind: str, endpoint: str) -> Draft202012Validator | None:
    fields = schemas(kind).get(endpoint)
    if fields is None:
        return None
    schema = object_schema(fields, f"{kind}:{endpoint}")
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def problems(kind: str, endpoint: str, body: Any) -> list[str] | None:
    """What the provider would refuse in this body ("field: message"; empty when valid); None when the provider
    has no such endpoint."""
    check = validator(kind, endpoint)
    if check is None:
        return None
    found = sorted(check.iter_errors(body), key=lambda e: [str(k) for k in e.absolute_path])
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
