"""A provider's request schemas (tests/support/contracts/<kind>_schemas.yaml) as validators: the same compact format
as fal's (built by tests.support.fal_contract.object_schema, unknown fields refused); top-level keys starting with
"_" hold anchors and the provider's extra rules, which the fakes check themselves."""

from __future__ import annotations

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
