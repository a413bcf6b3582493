"""The one HTTP call path the media adapters share: send with the deployment's timeout and headers, turn a
transport failure (and, with `call`, an HTTP error status) into an UpstreamError the router understands.
Adapter-specific rules (kie's envelope codes, Gemini's 400 API_KEY_INVALID, BFL's 402, Kling's codes in 200s)
stay in the adapters: they use `send` and read the answer themselves before `raise_for_status`. Every call is
a client span when tracing is on (`upstream_span`), carrying the W3C traceparent to the upstream."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from ...observability import tracing
from . import errors
from .adapter import Running
from .config import MediaDeployment

Pick = Callable[[Any], str | None]
T = TypeVar("T")


def bearer(key: str | None) -> dict[str, str]:
    """`Authorization: Bearer <key>`, or no header when the deployment has no key."""
    return {"Authorization": f"Bearer {key}"} if key else {}


async def send(
    http: httpx.AsyncClient,
    deployment: MediaDeployment,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    **kw: Any,
) -> httpx.Response:
    """One request with the deployment's timeout; any answer is returned, a transport failure raised."""
    with upstream_span(deployment, method, url) as span:
        try:
            resp = await http.request(
                method, url, headers=span.headers(headers), timeout=deployment.timeout_seconds, **kw
            )
        except httpx.HTTPError as exc:
            raise errors.from_transport(exc, deployment.name) from exc
        span.set_attributes({"http.response.status_code": resp.status_code})
        if resp.status_code >= 500:
            span.fail(f"HTTP {resp.status_code}")
        return resp


def upstream_span(deployment: MediaDeployment, method: str, url: str) -> tracing.SpanHandle:
    """The client span of one call to a media upstream, named by its kind and method (never the URL, whose
    path holds job ids); the URL's path only (its query may hold a key) as an attribute."""
    if not tracing.enabled():
        return tracing.OFF
    parts = urlsplit(url)
    return tracing.span(
        f"{deployment.kind} {method}",
        "client",
        attributes={"http.request.method": method, "server.address": parts.hostname or "", "url.path": parts.path},
        provider=deployment.name,
        provider_kind=deployment.kind,
    )


def raise_for_status(
    resp: httpx.Response, name: str, pick: Pick = errors.first_message, job_failed: bool = False
) -> httpx.Response:
    """The answer as is when it succeeded; an UpstreamError (errors.from_response) for HTTP >= 400."""
    if resp.status_code >= 400:
        raise errors.from_response(resp, name, pick, job_failed=job_failed)
    return resp


async def call(
    http: httpx.AsyncClient,
    deployment: MediaDeployment,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    pick: Pick = errors.first_message,
    job_failed: bool = False,
    **kw: Any,
) -> httpx.Response:
    """`send`, then `raise_for_status` with the upstream's own message reader `pick`."""
    resp = await send(http, deployment, method, url, headers=headers, **kw)
    return raise_for_status(resp, deployment.name, pick, job_failed)


async def or_running(status_request: Awaitable[T], wait: float) -> T | Running:
    """A status request's answer, or Running (after the upstream's Retry-After, else `wait` seconds) when it
    says we poll too fast: a 429 on a poll is not a failure of the job."""
    try:
        return await status_request
    except errors.UpstreamError as exc:
        if exc.rate_limited:
            return Running(poll_in=exc.retry_after or wait)
        raise


def same_origin(base_url: str, url: Any) -> bool:
    """Whether `url` (e.g. a follow-up link from an upstream's answer) is on the configured base's origin: only
    there may our key be sent."""
    if not isinstance(url, str):
        return False
    ours, theirs = urlsplit(base_url), urlsplit(url)
    return (ours.scheme, ours.netloc) == (theirs.scheme, theirs.netloc)


def b64_bytes(value: Any, unreadable: str) -> bytes:
    """Base64 (lenient, as the upstreams send it) decoded; an UpstreamError saying `unreadable` otherwise."""
    try:
        return base64.b64decode(value, validate=False)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise errors.UpstreamError(unreadable) from exc
