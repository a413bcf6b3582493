"""kie.ai's request bodies (tests/support/contracts/kie_schemas.yaml) as validators, and kie's way of refusing one:
HTTP 200 with the envelope `{"code": 422, "msg": ..., "data": null}`.

Read by tests.support.upstream_contract (unknown fields refused), with top-level numeric `enum`s checked too
(kie's Runway `duration`: 5 or 10)."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from tests.support import upstream_contract


def schemas() -> dict[str, dict[str, Any]]:
    """Market model id or model-API path → its compact field table."""
    return upstream_contract.schemas("kie")


def validator(endpoint: str) -> Draft202012Validator | None:
    return upstream_contract.validator("kie", endpoint, numeric_enums=True)


def refusals(endpoint: str, body: Any) -> list[str] | None:
    """What kie's validation says about this body (empty when valid); None when kie has no such model/API."""
    return upstream_contract.problems("kie", endpoint, body, numeric_enums=True)
