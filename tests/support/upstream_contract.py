"""The request contracts of the first-party media upstreams (tests/support/contracts/<kind>_schemas.yaml, the
compact format fal_schemas.yaml describes) as validators: unknown fields are refused, like fal's."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from runapi.yamlload import load_yaml
from tests.support.fal_contract import object_schema

CONTRACTS = Path(__file__).with_name("contracts")


@cache
def schemas(kind: str) -> dict[str, dict[str, Any]]:
    """Endpoint (or endpoint/model) → its compact field table."""
    return dict(load_yaml(CONTRACTS / f"{kind}_schemas.yaml"))


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
