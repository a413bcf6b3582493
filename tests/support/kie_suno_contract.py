"""kie.ai's (and sunoapi.org's) Suno request schemas (tests/support/contracts/kie_suno_schemas.yaml,
sunoapi_schemas.yaml) as validators, with kie's documented conditional requirements the compact table cannot
say, and kie's way of refusing a body: the envelope {code: 422 | 400, msg, data: null}."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from tests.support import upstream_contract

CUSTOM_MODE_ENDPOINTS = ("/api/v1/generate", "/api/v1/generate/upload-cover", "/api/v1/generate/mashup")


def schemas(kind: str = "kie_suno") -> dict[str, dict[str, Any]]:
    """Endpoint path → its field table for a service (sunoapi's file overrides fields of its `_base`)."""
    return upstream_contract.schemas(kind)


def validator(kind: str, endpoint: str) -> Draft202012Validator | None:
    return upstream_contract.validator(kind, endpoint)


def conditional_errors(endpoint: str, body: dict[str, Any]) -> list[str]:
    """kie's rules for customMode / instrumental / defaultParamFlag (the generate-music page's "Parameter
    Usage Guide" and its copies for upload-cover, mashup, extend and upload-extend)."""
    problems = []
    if endpoint in CUSTOM_MODE_ENDPOINTS:
        if body.get("customMode"):
            problems += [f"{f} is required in custom mode" for f in ("style", "title") if not body.get(f)]
            if not body.get("instrumental") and not body.get("prompt"):
                problems.append("prompt is required in custom mode when instrumental is false")
        elif not body.get("prompt"):
            problems.append("prompt is required in non-custom mode")
    if endpoint in ("/api/v1/generate/extend", "/api/v1/generate/upload-extend") and body.get("defaultParamFlag"):
        problems += [
            f"{f} is required with defaultParamFlag true" for f in ("style", "title", "continueAt") if f not in body
        ]
        if not body.get("instrumental") and not body.get("prompt"):
            problems.append("prompt is required with defaultParamFlag true when instrumental is false")
    if endpoint == "/api/v1/generate/upload-extend" and not body.get("defaultParamFlag") and not body.get("prompt"):
        problems.append("prompt is required with defaultParamFlag false")
    return problems


def refusal(kind: str, endpoint: str, body: Any) -> tuple[int, str] | None:
    """(code, msg) kie answers for an invalid body, None when it is valid; KeyError when there is no such
    endpoint."""
    check = validator(kind, endpoint)
    if check is None:
        raise KeyError(endpoint)
    problems = [upstream_contract.line(e) for e in check.iter_errors(body)]
    if problems:
        return 422, "; ".join(sorted(problems))
    conditional = conditional_errors(endpoint, body)
    return (400, "; ".join(conditional)) if conditional else None
