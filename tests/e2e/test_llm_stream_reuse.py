"""A stream the OpenAI protocol ends with `data: [DONE]` before its HTTP body ends gives its upstream
connection back to the pool once the body's last bytes arrive (llm/upstream_common.open_stream), so the next
call does not open a new one; the deltas are the same. A caller that stops early still closes the connection
(the upstream then stops generating), and an upstream that never ends its body after [DONE] is cut off."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from runapi.llm import upstream_common
from runapi.llm.canonical import ChatRequest
from runapi.llm.openai_chat.upstream import OpenAICompatible
from runapi.llm.upstream_common import LlmDeployment

CHUNK = b'data: {"choices":[{"index":0,"delta":{"content":"tok%d "},"finish_reason":null}]}\n\n'
LAST = b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2}}\n\n'


class Upstream:
    """Streams two tokens, the usage chunk and [DONE], then ends the body after `tail` seconds (None: never)."""

    def __init__(self, tail: float | None = 0.01):
        self.tail = tail
        self.peers: set[Any] = set()
        self.runner: web.AppRunner | None = None
        self.url = ""
        self.done = asyncio.Event()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.peers.add(request.transport.get_extra_info("peername") if request.transport else None)
        await request.read()
        resp = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await resp.prepare(request)
        for i in range(2):
            await resp.write(CHUNK % i)
        await resp.write(LAST)
        await resp.write(b"data: [DONE]\n\n")
        if self.tail is None:
            await self.done.wait()  # never ends the body (until the test is over)
        await asyncio.sleep(self.tail)
        await resp.write_eof()
        return resp

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.handle)
        self.runner = web.AppRunner(app, handle_signals=False)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/v1"

    async def stop(self) -> None:
        assert self.runner is not None
        self.done.set()
        await self.runner.cleanup()


async def stream_once(adapter: OpenAICompatible) -> list[Any]:
    req = ChatRequest(model="m", messages=[{"role": "user", "content": "hi"}], stream=True)
    return [(d.text, d.finish_reason, d.usage) async for d in adapter.stream(req)]


async def settle_drains() -> None:
    for _ in range(500):  # bounded: the tail is 10 ms
        if not getattr(upstream_common, "_draining", ()):
            return
        await asyncio.sleep(0.01)


def test_streams_ended_by_done_reuse_one_connection():
    async def go() -> tuple[list[list[Any]], int]:
        up = Upstream()
        await up.start()
        try:
            async with aiohttp.ClientSession() as http:
                adapter = OpenAICompatible(LlmDeployment("up", up.url), http)
                answers = []
                for _ in range(4):
                    answers.append(await stream_once(adapter))
                    await settle_drains()
            return answers, len(up.peers)
        finally:
            await up.stop()

    answers, connections = asyncio.run(go())
    assert connections == 1  # before: a new connection for every call
    for deltas in answers:
        assert [d[0] for d in deltas[:2]] == ["tok0 ", "tok1 "]
        assert deltas[-1][1] == "stop" and deltas[-1][2].output_tokens == 2


def test_a_caller_that_stops_early_closes_the_connection():
    async def go() -> int:
        up = Upstream()
        await up.start()
        try:
            async with aiohttp.ClientSession() as http:
                adapter = OpenAICompatible(LlmDeployment("up", up.url), http)
                for _ in range(2):
                    req = ChatRequest(model="m", messages=[{"role": "user", "content": "hi"}], stream=True)
                    gen = adapter.stream(req)
                    await gen.__anext__()  # one token, then the client is gone
                    await gen.aclose()
                    assert not getattr(upstream_common, "_draining", ())  # nothing read on its behalf
            return len(up.peers)
        finally:
            await up.stop()

    assert asyncio.run(go()) == 2


def test_an_upstream_that_never_ends_its_body_is_cut_off(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(upstream_common, "DRAIN_SECONDS", 0.05, raising=False)

    async def go() -> tuple[list[Any], int]:
        up = Upstream(tail=None)
        await up.start()
        try:
            async with aiohttp.ClientSession() as http:
                adapter = OpenAICompatible(LlmDeployment("up", up.url), http)
                first = await stream_once(adapter)  # the deltas do not wait for the body's end
                await settle_drains()
                await stream_once(adapter)
                await settle_drains()
            return first, len(up.peers)
        finally:
            await up.stop()

    first, connections = asyncio.run(go())
    assert first[-1][1] == "stop"
    assert connections == 2  # the first connection was closed, not reused
