"""kie.ai's request bodies (tests/support/contracts/kie_schemas.yaml) as validators, and kie's way of refusing one:
HTTP 200 with the envelope `{"code": 422, "msg": ..., "data": null}`.

Built with fal_contract's compact-table reader (unknown fields refused); a numeric field's `enum` (kie's Runway
`duration`: 5 or 10) is added here, as fal's table has none."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from runapi.yamlload import load_yaml
from tests.support.fal_contract import object_schema

SCHEMAS_PATH = Path(__file__).with_name("contracts") / "kie_schemas.yaml"


@cache
def schemas() -> dict[str, dict[str, Any]]:
    """Market model id or model-API path → its compact field table."""
    return dict(load_yaml(SCHEMAS_PATH))


@cache
def validator(endpoint: str) -> Draft202012Validator | None:
    fields = schemas().get(endpoint)
    if fields is None:
        return None
    schema = object_schema(fields, endpoint)
    for name, spec in fields.items():
        kinds = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
        if "enum" in spec and "string" not in kinds:
            schema["properties"][name] = {"enum": list(spec["enum"]), **schema["properties"][name]}
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def refusals(endpoint: str, body: Any) -> list[str] | None:
    """What kie's validation says about this body (empty when valid); None when kie has no such model/API."""
    check = validator(endpoint)
    if check is None:
        return None
    found = sorted(check.iter_errors(body), key=lambda e: [str(k) for k in e.absolute_path])
    return [f"{'.'.join(str(p) for p in e.absolute_path) or 'body'}: {e.message}" for e in found]
