"""The gateway's per-request savings keep behaviour: gc.freeze once per start-up, stream events parsed by
orjson as the stdlib did, log lines unchanged without the caller/thread/process look-ups, token metrics
counted through cached children, and SSE answers written straight to the server byte for byte, closed and
settled once however they end."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import AsyncGenerator
from typing import Any

import pytest
from prometheus_client import REGISTRY

from runapi.api.llm_common import SseResponse
from runapi.llm.upstream_common import parse_json, sse_events
from runapi.observability.context import request_id
from runapi.observability.logs import configure_logging
from runapi.observability.metrics import record_llm_tokens
from runapi.observability.middleware import DIRECT_SEND
from runapi.upstream_errors import UpstreamError


@pytest.mark.parametrize(
    "data",
    [
        '{"choices":[{"delta":{"content":"héllo \\u00e9 🙂"}}],"usage":null}',
        '{"a":1.5,"b":[true,false,null],"c":{"d":"x"}}',
        '{"n":NaN,"i":Infinity}',  # not JSON, but Python's json always read it
        '{"s":"\\ud800"}',  # a lone surrogate escape
    ],
)
def test_stream_events_parse_as_the_stdlib_did(data: str):
    assert repr(parse_json(data, "up")) == repr(json.loads(data))


def test_integers_over_64_bits_come_back_as_floats():
    """orjson's one difference kept: no field read from an event is that large (token counts pass int())."""
    assert parse_json('{"big":123456789012345678901234567890}', "up") == {"big": 1.2345678901234568e29}


@pytest.mark.parametrize("data", ["{", "[1,2]", '"text"', "", "{'a':1}"])
def test_malformed_stream_events_are_upstream_errors(data: str):
    with pytest.raises(UpstreamError, match="up: malformed stream event"):
        parse_json(data, "up")


def _access_line(log_format: str) -> str:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure_logging(log_format, "INFO", stream)
        token = request_id.set("lean-req-1")
        try:
            logging.getLogger("runapi.access").info(
                "%s %s %d %.2fms",
                "POST",
                "/v1/chat/completions",
                200,
                1.25,
                extra={"method": "POST", "path": "/v1/chat/completions", "status": 200, "duration_ms": 1.25},
            )
        finally:
            request_id.reset(token)
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    return stream.getvalue()


def test_log_lines_keep_their_content():
    text = _access_line("text")
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO runapi.access \[lean-req-1\] POST /v1/chat/completions 200 1.25ms\n",
        text,
    ), text
    line = json.loads(_access_line("json"))
    assert line == {
        "ts": line["ts"],
        "level": "INFO",
        "logger": "runapi.access",
        "msg": "POST /v1/chat/completions 200 1.25ms",
        "request_id": "lean-req-1",
        "method": "POST",
        "path": "/v1/chat/completions",
        "status": 200,
        "duration_ms": 1.25,
    }


def test_records_skip_the_lookups_no_format_shows():
    _access_line("text")
    record = logging.getLogger("lean").makeRecord("lean", logging.INFO, "f", 1, "m", (), None)
    assert record.threadName is None and record.processName is None and record.process is None
    assert logging._srcfile is None  # no stack walk for the caller's file and line


def test_token_metrics_count_through_cached_children():
    def sample(kind: str) -> float:
        return REGISTRY.get_sample_value("runapi_llm_tokens_billed_total", {"model": "lean-model", "kind": kind}) or 0

    before = sample("output"), sample("input"), sample("cached_input")
    record_llm_tokens("lean-model", 10, 3, cached_tokens=4)
    record_llm_tokens("lean-model", 5, 2)
    assert (sample("output"), sample("input"), sample("cached_input")) == (
        before[0] + 5,
        before[1] + 6 + 5,
        before[2] + 4,
    )


async def _frames(sent: list[bytes], gate: asyncio.Event | None = None) -> AsyncGenerator[bytes, None]:
    try:
        for i in range(5):
            if gate is not None and i == 2:
                await gate.wait()  # the upstream goes quiet mid-stream
            frame = f'data: {{"i":{i},"text":"t\\u00e9 {i}"}}\n\n'.encode()
            sent.append(frame)
            yield frame
        sent.append(b"data: [DONE]\n\n")
        yield b"data: [DONE]\n\n"
    finally:
        sent.append(b"closed")


def _run_sse(gate: asyncio.Event | None, disconnect_after: int | None):
    """An SseResponse under a fake server: the wrapped send (the layers) and the server's own send, apart."""
    wrapped: list[dict] = []
    direct: list[dict] = []
    frames: list[bytes] = []
    closes: list[int] = []

    async def main() -> None:
        disconnected = asyncio.Event()

        async def receive() -> dict:
            await disconnected.wait()
            return {"type": "http.disconnect"}

        async def layer_send(message: dict) -> None:
            wrapped.append(message)

        async def server_send(message: dict) -> None:
            direct.append(message)
            if disconnect_after is not None and len(direct) == disconnect_after:
                disconnected.set()

        async def close() -> None:
            closes.append(1)

        response = SseResponse(_frames(frames, gate), "text/event-stream", {"Cache-Control": "no-cache"}, close)
        await asyncio.wait_for(response({"type": "http", DIRECT_SEND: server_send}, receive, layer_send), 5)

    asyncio.run(main())
    return wrapped, direct, frames, closes


def test_sse_bodies_are_the_frames_byte_for_byte_through_the_direct_send():
    wrapped, direct, frames, closes = _run_sse(None, None)
    assert [m["type"] for m in wrapped] == ["http.response.start"]  # the layers see the start (status, id)
    assert (
        wrapped[0]["status"] == 200 and (b"content-type", b"text/event-stream; charset=utf-8") in wrapped[0]["headers"]
    )
    assert all(m["type"] == "http.response.body" for m in direct)
    assert b"".join(m["body"] for m in direct) == b"".join(frames[:-1])  # every frame, unchanged, in order
    assert [m["more_body"] for m in direct] == [True] * 6 + [False]
    assert frames[-1] == b"closed" and closes == [1]


def test_a_client_that_leaves_mid_stream_ends_the_body_and_settles_once():
    gate = asyncio.Event()  # never set: only the disconnect can end this stream
    _, direct, frames, closes = _run_sse(gate, disconnect_after=2)
    assert len(direct) == 2 and all(m["more_body"] for m in direct)
    assert frames[-1] == b"closed"  # the frames (and with them the upstream call) are closed
    assert closes == [1]


class _Content:
    def __init__(self, reads: list[bytes]):
        self.reads = reads

    async def iter_any(self) -> AsyncGenerator[bytes, None]:
        for read in self.reads:
            await asyncio.sleep(0)  # each read is a wait on the network
            yield read


class _Upstream:
    def __init__(self, reads: list[bytes]):
        self.content = _Content(reads)


UPSTREAM_EVENTS = [f'data: {{"choices":[{{"delta":{{"content":"tok{i} \\u00e9"}}}}]}}\n\n'.encode() for i in range(6)]


def _coalesced(reads: list[bytes], first_early: bool = False) -> list[dict]:
    """The body messages an SseResponse writes for frames re-made from an upstream's events, read as `reads`;
    `first_early`: the first frame is taken before the response exists (as MeteredStream.start does)."""

    async def frames() -> AsyncGenerator[bytes, None]:
        async for _, data in sse_events(_Upstream(reads)):  # type: ignore[arg-type]
            yield f"data: {data}\n\n".encode()

    direct: list[dict] = []

    async def main() -> None:
        made = frames()
        source = made
        if first_early:
            first = await anext(made)

            async def rest() -> AsyncGenerator[bytes, None]:
                yield first
                async for frame in made:
                    yield frame

            source = rest()

        async def receive() -> dict:
            await asyncio.Event().wait()
            return {}

        async def server_send(message: dict) -> None:
            direct.append(message)

        async def layer_send(message: dict) -> None:
            pass

        async def close() -> None:
            pass

        response = SseResponse(source, "text/event-stream", {}, close)
        await asyncio.wait_for(response({"type": "http", DIRECT_SEND: server_send}, receive, layer_send), 5)

    asyncio.run(main())
    return direct


def test_one_write_per_upstream_read_byte_for_byte():
    stream = b"".join(UPSTREAM_EVENTS)
    split = len(b"".join(UPSTREAM_EVENTS[:3])) + 10  # the 4th event straddles the two reads
    direct = _coalesced([stream[:split], stream[split:]])
    bodies = [m["body"] for m in direct]
    assert bodies == [b"".join(UPSTREAM_EVENTS[:3]), b"".join(UPSTREAM_EVENTS[3:]), b""]
    assert [m["more_body"] for m in direct] == [True, True, False]


def test_a_burst_is_one_write_and_spaced_events_one_each():
    assert [m["body"] for m in _coalesced([b"".join(UPSTREAM_EVENTS)])] == [b"".join(UPSTREAM_EVENTS), b""]
    assert [m["body"] for m in _coalesced(UPSTREAM_EVENTS)] == [*UPSTREAM_EVENTS, b""]


def test_a_burst_read_before_the_response_started_is_still_coalesced():
    """The first delta is awaited before the response exists (a failure there gets a real HTTP error), and with
    a burst that read holds the whole stream: the first frame goes alone, the rest in one write."""
    bodies = [m["body"] for m in _coalesced([b"".join(UPSTREAM_EVENTS)], first_early=True)]
    assert bodies == [UPSTREAM_EVENTS[0], b"".join(UPSTREAM_EVENTS[1:]), b""]


@pytest.mark.parametrize("sandbox", [False, True])
def test_chat_stream_chunks_are_the_bytes_a_whole_object_dump_makes(sandbox: bool):
    """Chunks are written as a pre-serialised head plus their choices: byte for byte what dumping the whole
    chunk object (the id, object, created, model and fingerprint, then choices) made."""
    import orjson

    from runapi.llm.canonical import Delta, ToolCall, Usage
    from runapi.llm.openai_chat.surface import ChatCompletionCall
    from runapi.llm.surface import Answering

    call = ChatCompletionCall(
        {
            "model": "gpt-5.2",
            "messages": [{"role": "user", "content": "hi"}],
            "stream": True,
            "n": 2,
            "stream_options": {"include_usage": True},
        }
    )
    pieces = [
        Delta(text='héllo 🙂 "quoted" \\ </script>'),
        Delta(reasoning="thinking…", text=""),
        Delta(tool_call=ToolCall("call_1", "get", '{"a":1}'), tool_index=0, choice=1),
        Delta(tool_call=ToolCall("", "", '{"b":2}'), tool_index=0, choice=1),
        Delta(finish_reason="stop", usage=Usage(input_tokens=3, output_tokens=5)),
    ]

    class Stream:
        first = None
        usage = Usage(input_tokens=3, output_tokens=5)

        async def __aiter__(self):
            for p in pieces:
                yield p

    async def collect() -> list[bytes]:
        return [f async for f in call.frames(Answering("gpt-5.2", sandbox), Stream(), lambda e: e)]

    frames = asyncio.run(collect())
    assert frames[-1] == b"data: [DONE]\n\n"
    base_keys = ["id", "object", "created", "model", "system_fingerprint"]
    for frame in frames[:-1]:
        assert frame.startswith(b"data: ") and frame.endswith(b"\n\n")
        obj = orjson.loads(frame[6:-2])
        assert list(obj)[:6] == [*base_keys, "choices"]
        assert frame == b"data: " + orjson.dumps(obj) + b"\n\n"  # nothing but what a whole-object dump writes
        assert obj["id"] == call.id and obj["model"] == "gpt-5.2" and obj["object"] == "chat.completion.chunk"
        assert (obj["system_fingerprint"] is not None) == sandbox
    # n role chunks, text, reasoning (and its empty text), 2 tool fragments, finish, usage, [DONE]
    assert len(frames) == 2 + 1 + 2 + 2 + 1 + 1 + 1


async def _reference_lines(resp: Any) -> AsyncGenerator[str, None]:
    """sse_events as it was: a generator of lines under a generator of events (the same rules)."""
    from runapi.llm.coalesce import current_batch

    buffer = b""
    batch = None
    try:
        async for chunk in resp.content.iter_any():
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                if batch is None:
                    batch = current_batch.get()
                if batch is not None:
                    batch.holding = True
                yield line.decode("utf-8", "replace")
            if batch is not None and batch.holding:
                batch.holding = False
                await batch.flush()
        if buffer:
            yield buffer.decode("utf-8", "replace")
    finally:
        if batch is not None:
            batch.holding = False


async def _reference_events(resp: Any) -> AsyncGenerator[tuple[str | None, str], None]:
    name: str | None = None
    data: list[str] = []
    async for line in _reference_lines(resp):
        line = line.rstrip("\r")
        if not line:
            if data:
                yield name, "\n".join(data)
            name, data = None, []
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    if data:
        yield name, "\n".join(data)


SSE_STREAMS = [
    b"".join(UPSTREAM_EVENTS) + b"data: [DONE]\n\n",
    b'event: message_start\r\ndata: {"a":1}\r\n\r\n: keep-alive\n\nevent: delta\ndata: line one\ndata: line two\n\n',
    "data: h\u00e9llo \U0001f642\n\ndata:no-space\n\nevent:  padded \ndata: x\n\n".encode(),
    b"data: unterminated tail",
    b"data: a\n\ndata: b\r",
    b"data: a\n\n:comment at the end",
    b"data: a\n\nevent: only-a-name",
    b"\xff\xfebad utf-8\ndata: \xe9\n\n",
]


@pytest.mark.parametrize("stream", SSE_STREAMS)
def test_sse_events_read_as_the_two_generators_did(stream: bytes):
    """Events, and what the response's ReadBatch sees (holding while a read's events are handed out, a flush
    after each read), are the same as with the line generator it replaced, however the stream is cut."""
    import random

    from runapi.llm.coalesce import ReadBatch, current_batch

    async def trace(events: Any, reads: list[bytes]) -> list[Any]:
        seen: list[Any] = []

        async def flush() -> None:
            seen.append("flush")

        batch = ReadBatch(flush)
        token = current_batch.set(batch)
        try:
            async for event in events(_Upstream(reads)):
                seen.append((event, batch.holding))
        finally:
            current_batch.reset(token)
        seen.append(("after", batch.holding))
        return seen

    rng = random.Random(len(stream))
    for _ in range(40):
        cuts = sorted(rng.sample(range(1, len(stream)), min(len(stream) - 1, rng.randint(0, 6))))
        reads = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
        new = asyncio.run(trace(sse_events, reads))
        old = asyncio.run(trace(_reference_events, reads))
        assert new == old, reads
