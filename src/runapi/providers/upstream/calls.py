"""One upstream HTTP call as the first-party media adapters make it: the shared client, the deployment's
timeout, and every failure as an UpstreamError (errors.py decides what the router does with it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from . import errors
from .config import MediaDeployment


async def call(
    http: httpx.AsyncClient,
    deployment: MediaDeployment,
    method: str,
    path: str,
    headers: dict[str, str],
    job_failed: bool = False,
    pick: Callable[[Any], str | None] = errors.first_message,
    **kw: Any,
) -> httpx.Response:
    """`method` on the deployment's base_url + `path` (our key goes nowhere else); raises UpstreamError for a
    transport failure or an HTTP error (`pick` finds the provider's own message in its error body)."""
    try:
        resp = await http.request(
            method, f"{deployment.base_url}{path}", headers=headers, timeout=deployment.timeout_seconds, **kw
        )
    except httpx.HTTPError as exc:
        raise errors.from_transport(exc, deployment.name) from exc
    if resp.status_code >= 400:
        raise errors.from_response(resp, deployment.name, pick, job_failed=job_failed)
    return resp
