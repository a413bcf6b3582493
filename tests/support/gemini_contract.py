"""The Gemini API's media request schemas (tests/support/contracts/gemini_schemas.yaml) as validators, plus
Google's rules across fields that a per-field table cannot say (Veo: durationSeconds is 4, 6 or 8, and 8 with
reference images or at 1080p / 4k; reference images take 16:9 only; lastFrame goes with image). `refusals`
answers Google's words for what is wrong, or None when Google has no such model for that method."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from tests.support import upstream_contract


def schemas() -> dict[str, dict[str, Any]]:
    """ "method/model" → its compact field table."""
    return upstream_contract.schemas("gemini")


def validator(endpoint: str) -> Draft202012Validator | None:
    return upstream_contract.validator("gemini", endpoint)


def _where(path: Any) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".") or "request"


def _veo_rules(body: dict[str, Any]) -> list[str]:
    instance = (body.get("instances") or [{}])[0]
    parameters = body.get("parameters") or {}
    duration = parameters.get("durationSeconds", 8)
    out = []
    if duration not in (4, 6, 8):
        out.append(f"durationSeconds must be 4, 6 or 8, got {duration}")
    if instance.get("referenceImages") and duration != 8:
        out.append("durationSeconds must be 8 when using reference images")
    if instance.get("referenceImages") and parameters.get("aspectRatio", "16:9") != "16:9":
        out.append("reference images support aspectRatio 16:9 only")
    if parameters.get("resolution") in ("1080p", "4k") and duration != 8:
        out.append("durationSeconds must be 8 at 1080p and 4k")
    if instance.get("lastFrame") and not instance.get("image"):
        out.append("lastFrame needs image (the first frame)")
    if instance.get("referenceImages") and instance.get("image"):
        out.append("referenceImages cannot be combined with image")
    return out


def refusals(method: str, model: str, body: Any) -> list[str] | None:
    """What Google would refuse in this body ([] when it is valid); None for an unknown (method, model)."""
    check = validator(f"{method}/{model}")
    if check is None:
        return None
    out = []
    for error in upstream_contract.sorted_errors(check, body):
        if error.validator == "additionalProperties":
            known = set(error.schema.get("properties", {}))
            out += [
                f"Invalid JSON payload received. Unknown name \"{extra}\" at '{_where(error.absolute_path)}': "
                "Cannot find field."
                for extra in error.instance
                if extra not in known
            ]
        else:
            out.append(f"* {_where(error.absolute_path)}: {error.message}")
    if not out and method == "predictLongRunning":
        out += _veo_rules(body)
    return out
