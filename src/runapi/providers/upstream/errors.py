"""How an upstream call went wrong, and what the router should do about it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from ...upstream_errors import UpstreamError

__all__ = [
    "UpstreamError",
    "body_message",
    "first_message",
    "from_response",
    "from_transport",
    "json_object",
    "retry_after",
]


# At submission these mean "this deployment cannot take it" (bad key, unknown app here, busy), not "the
# request is wrong", so the next deployment is tried.
RETRYABLE_STATUSES = frozenset({401, 403, 404, 408, 409, 425, 429})


def retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("retry-after")
    try:
        return max(float(value), 0.0) if value else None
    except ValueError:
        return None  # an HTTP date: the router's default cool-down applies


def body_message(resp: httpx.Response, pick: Callable[[Any], str | None]) -> str:
    """The upstream's own message from an error body (via `pick`), else a short raw excerpt."""
    text = resp.content[:2000].decode("utf-8", "replace")
    try:
        message = pick(json.loads(text))
    except (ValueError, KeyError, TypeError, IndexError, AttributeError):
        message = None
    return str(message or text.strip()[:300] or f"HTTP {resp.status_code}")


def from_response(
    resp: httpx.Response, name: str, pick: Callable[[Any], str | None], job_failed: bool = False
) -> UpstreamError:
    status = resp.status_code
    retryable = status in RETRYABLE_STATUSES or status >= 500
    message = body_message(resp, pick)
    if retryable:
        message = f"{name} answered HTTP {status}: {message}"
    return UpstreamError(message, status, retryable, retry_after(resp), job_failed=job_failed and retryable)


def from_transport(exc: httpx.HTTPError, name: str) -> UpstreamError:
    return UpstreamError(f"{name} unreachable ({type(exc).__name__})")


def first_message(data: Any) -> str | None:
    """Common error shapes: {"error": {"message"}}, {"detail": "..."}, {"detail": [{"msg"}]}, {"message"}."""
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])  # (body_message stringifies whatever is picked anyway)
        if isinstance(err, str):
            return err
        detail = data.get("detail")
        if isinstance(detail, str):
            return detail
        if isinstance(detail, list) and detail and isinstance(detail[0], dict):
            return detail[0].get("msg")
        if isinstance(detail, dict):
            return detail.get("message") or detail.get("msg")
        return data.get("message")
    return None


def json_object(resp: httpx.Response, name: str) -> dict[str, Any]:
    """The JSON object an upstream answered, or an UpstreamError saying it answered something else."""
    try:
        data = resp.json()
    except ValueError as exc:
        raise UpstreamError(f"{name} answered with invalid JSON") from exc
    if not isinstance(data, dict):
        raise UpstreamError(f"{name} answered with unexpected JSON")
    return data
