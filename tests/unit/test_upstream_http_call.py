"""The media adapters' shared call path (http_call.py) without a socket: the deployment's timeout and the given
headers go out, transport failures and HTTP errors become the UpstreamErrors the router reads, follow-up URLs
are trusted only on the configured origin, and base64 results decode or fail as the upstream's fault."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from runapi.providers.upstream.adapter import Running
from runapi.providers.upstream.config import MediaDeployment
from runapi.providers.upstream.errors import UpstreamError
from runapi.providers.upstream.http_call import (
    b64_bytes,
    bearer,
    call,
    or_running,
    raise_for_status,
    same_origin,
    send,
)

DEPLOYMENT = MediaDeployment(name="up", kind="fal", base_url="https://up.example/v1", timeout_seconds=7.0)


def client(handler: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_bearer_header_only_with_a_key():
    assert bearer("k") == {"Authorization": "Bearer k"}
    assert bearer(None) == {} and bearer("") == {}


def test_send_uses_the_headers_and_the_deployments_timeout():
    seen: dict[str, Any] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.update(key=request.headers.get("x-key"), timeout=request.extensions["timeout"], url=str(request.url))
        return httpx.Response(500, json={"detail": "down"})

    async def go() -> httpx.Response:
        async with client(handler) as http:
            return await send(http, DEPLOYMENT, "GET", "https://up.example/v1/x", headers={"x-key": "s"})

    resp = run(go())
    assert resp.status_code == 500  # send returns any answer: reading it is the caller's business
    assert seen["key"] == "s" and seen["url"] == "https://up.example/v1/x"
    assert seen["timeout"] == {"connect": 7.0, "read": 7.0, "write": 7.0, "pool": 7.0}


def test_a_transport_failure_is_a_retryable_upstream_error():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async def go() -> None:
        async with client(handler) as http:
            await call(http, DEPLOYMENT, "GET", "https://up.example/v1/x", headers={})

    with pytest.raises(UpstreamError, match="up unreachable") as exc:
        run(go())
    assert exc.value.retryable


@pytest.mark.parametrize(
    ("status", "retryable", "job_failed"), [(429, True, True), (503, True, True), (422, False, False)]
)
def test_call_reads_error_answers_with_the_upstreams_picker(status: int, retryable: bool, job_failed: bool):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"why": "because"}, headers={"retry-after": "3"})

    async def go() -> None:
        async with client(handler) as http:
            await call(
                http,
                DEPLOYMENT,
                "POST",
                "https://up.example/v1/x",
                headers={},
                pick=lambda d: d["why"],
                job_failed=True,
            )

    with pytest.raises(UpstreamError, match="because") as exc:
        run(go())
    assert (exc.value.status, exc.value.retryable, exc.value.job_failed) == (status, retryable, job_failed)
    assert exc.value.retry_after == 3.0


def test_raise_for_status_passes_success_through():
    resp = httpx.Response(200, json={"ok": True})
    assert raise_for_status(resp, "up") is resp


def test_same_origin_trusts_only_the_configured_scheme_host_and_port():
    base = "https://up.example/v1"
    assert same_origin(base, "https://up.example/other?x=1")
    assert not same_origin(base, "http://up.example/v1")
    assert not same_origin(base, "https://up.example:8443/v1")
    assert not same_origin(base, "https://evil.example/v1")
    assert not same_origin(base, None) and not same_origin(base, 3)


def test_b64_bytes_decodes_leniently_and_names_the_unreadable():
    assert b64_bytes("aGk=", "bad") == b"hi"
    with pytest.raises(UpstreamError, match="up sent unreadable audio"):
        b64_bytes("a", "up sent unreadable audio")
    with pytest.raises(UpstreamError):
        b64_bytes(3, "bad")


def test_or_running_turns_a_rate_limited_poll_into_running_and_raises_the_rest():
    async def fails(exc: UpstreamError) -> httpx.Response:
        raise exc

    async def ok() -> str:
        return "answer"

    assert run(or_running(ok(), 5.0)) == "answer"
    assert run(or_running(fails(UpstreamError("slow down", 429, True, 7.0)), 5.0)) == Running(poll_in=7.0)
    assert run(or_running(fails(UpstreamError("slow down", 429, True)), 5.0)) == Running(poll_in=5.0)
    with pytest.raises(UpstreamError, match="down"):
        run(or_running(fails(UpstreamError("down", 503, True)), 5.0))
