"""The HTTP edge writes a response's head together with its first body write (api/http_server.JoinedHead):
one write where uvicorn made two, the same bytes in the same order; a head whose body does not follow at
once (a stream, a HEAD answer) still goes out by the next turn of the event loop, and `100 Continue` stays
ahead of it."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.config import Config
from uvicorn.server import ServerState

from runapi.api.http_server import ConnectionLimits, protocol_with


class FakeTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 40000)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def serve(app: Any, request: bytes, until: asyncio.Event | None = None) -> FakeTransport:
    """Feed `request` to the guarded protocol and let the app run (to the end, or until `until` is set)."""
    limits = ConnectionLimits(5, 5, 5, 10)
    config = Config(app=app, http=protocol_with(limits), lifespan="off", access_log=False, proxy_headers=False)
    config.load()
    protocol = config.http_protocol_class(config=config, server_state=ServerState(), app_state={})
    transport = FakeTransport()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    protocol.data_received(request)
    for _ in range(200):  # bounded: the apps below need a handful of turns
        await asyncio.sleep(0)
        if until is not None and until.is_set():
            break
        if until is None and protocol.cycle is not None and protocol.cycle.response_complete:
            await asyncio.sleep(0)
            break
    protocol.connection_lost(None)
    return transport


JSON_BODY = b'{"ok":true}'


async def json_app(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(JSON_BODY)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": JSON_BODY})


def test_head_and_body_go_out_in_one_write():
    transport = asyncio.run(serve(json_app, b"GET /x HTTP/1.1\r\nhost: a\r\n\r\n"))
    assert len(transport.writes) == 1
    head, body = transport.writes[0].split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\ncontent-length: 11" in head and b"\r\ncontent-type: application/json" in head
    assert body == JSON_BODY


def test_a_head_answer_without_body_bytes_still_sends_its_head():
    transport = asyncio.run(serve(json_app, b"HEAD /x HTTP/1.1\r\nhost: a\r\n\r\n"))
    assert len(transport.writes) == 1
    assert transport.writes[0].startswith(b"HTTP/1.1 200 OK\r\n") and transport.writes[0].endswith(b"\r\n\r\n")


def test_a_stream_gets_its_head_before_its_first_event():
    async def go() -> tuple[list[bytes], list[bytes]]:
        release, started = asyncio.Event(), asyncio.Event()
        seen: list[bytes] = []

        async def stream_app(scope: Any, receive: Any, send: Any) -> None:
            await receive()
            headers = [(b"content-type", b"text/event-stream")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            started.set()
            await release.wait()  # the upstream's first token is late
            seen.extend(transport_ref[0].writes)
            await send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True})
            await send({"type": "http.response.body", "body": b""})

        transport_ref: list[FakeTransport] = []
        limits = ConnectionLimits(5, 5, 5, 10)
        config = Config(app=stream_app, http=protocol_with(limits), lifespan="off", access_log=False)
        config.load()
        protocol = config.http_protocol_class(config=config, server_state=ServerState(), app_state={})
        transport = FakeTransport()
        transport_ref.append(transport)
        protocol.connection_made(transport)  # type: ignore[arg-type]
        protocol.data_received(b"POST /s HTTP/1.1\r\nhost: a\r\ncontent-length: 0\r\n\r\n")
        for _ in range(50):
            await asyncio.sleep(0)
            if started.is_set():
                break
        for _ in range(3):
            await asyncio.sleep(0)
        release.set()
        for _ in range(50):
            await asyncio.sleep(0)
            if protocol.cycle.response_complete:
                break
        protocol.connection_lost(None)
        return seen, transport.writes

    seen, writes = asyncio.run(go())
    assert len(seen) == 1 and seen[0].startswith(b"HTTP/1.1 200 OK\r\n")  # out before the first event
    assert b"transfer-encoding: chunked" in seen[0]
    assert writes[1:] == [b"9\r\ndata: 1\n\n\r\n", b"0\r\n\r\n"]


def test_100_continue_stays_ahead_of_the_joined_answer():
    request = b"POST /x HTTP/1.1\r\nhost: a\r\nexpect: 100-continue\r\ncontent-length: 2\r\n\r\n{}"
    transport = asyncio.run(serve(json_app, request))
    assert transport.writes[0] == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert len(transport.writes) == 2
    assert transport.writes[1].startswith(b"HTTP/1.1 200 OK\r\n") and transport.writes[1].endswith(JSON_BODY)


def test_a_closed_connection_gets_its_held_head_first():
    async def fails_after_start(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        headers = [(b"content-length", b"5")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        raise RuntimeError("the app broke before its body")

    transport = asyncio.run(serve(fails_after_start, b"GET /x HTTP/1.1\r\nhost: a\r\n\r\n"))
    assert transport.closed  # uvicorn closes a connection whose response was cut short
    assert len(transport.writes) == 1 and transport.writes[0].startswith(b"HTTP/1.1 200 OK\r\n")


def make_protocol(app: Any, limits: ConnectionLimits) -> tuple[Any, FakeTransport]:
    config = Config(app=app, http=protocol_with(limits), lifespan="off", access_log=False, proxy_headers=False)
    config.load()
    protocol = config.http_protocol_class(config=config, server_state=ServerState(), app_state={})
    transport = FakeTransport()
    protocol.connection_made(transport)
    return protocol, transport


def test_kept_alive_requests_reuse_one_deadline_timer(monkeypatch: Any):
    """The header and body deadlines move one timer: it is not made and cancelled three times a request."""

    async def go() -> tuple[int, int]:
        loop = asyncio.get_running_loop()
        made = 0
        real_call_at = loop.call_at  # (call_later goes through call_at on asyncio's loop)

        def counting_at(when: float, callback: Any, *args: Any, **kwargs: Any) -> Any:
            nonlocal made
            if getattr(callback, "__name__", "") in ("_fire", "_expired"):  # our deadline timer, not uvicorn.s
                made += 1
            return real_call_at(when, callback, *args, **kwargs)

        monkeypatch.setattr(loop, "call_at", counting_at)
        protocol, transport = make_protocol(json_app, ConnectionLimits(10, 30, 600, 10))
        for _ in range(5):
            protocol.data_received(b"POST /x HTTP/1.1\r\nhost: a\r\ncontent-length: 2\r\n\r\n{}")
            for _ in range(50):
                await asyncio.sleep(0)
                if protocol.cycle.response_complete:
                    break
        protocol.connection_lost(None)
        return made, len(transport.writes)

    timers, writes = asyncio.run(go())
    assert writes == 5
    assert timers == 1  # set when the connection opened, then only moved (it was 1 + 3 a request)


def test_deadlines_still_close_a_silent_connection_and_not_before_a_moved_deadline():
    async def go() -> tuple[bool, bool, bool]:
        # headers due in 0.02 s; once they are in, the body may idle 5 s
        protocol, transport = make_protocol(json_app, ConnectionLimits(0.02, 5, 600, 10))
        silent, silent_transport = make_protocol(json_app, ConnectionLimits(0.02, 5, 600, 10))
        protocol.data_received(b"POST /x HTTP/1.1\r\nhost: a\r\ncontent-length: 10\r\n\r\n{")
        for _ in range(200):  # bounded wait for the silent connection's header deadline
            if silent_transport.closed:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)  # well past the first (headers) deadline, far before the body's
        body_waiting = not transport.closed
        protocol.connection_lost(None)
        silent.connection_lost(None)
        return silent_transport.closed, body_waiting, transport.closed

    silent_closed, body_waiting, _ = asyncio.run(go())
    assert silent_closed  # sent nothing: closed at its header deadline
    assert body_waiting  # its deadline moved on to the body's idle limit: the earlier timer did not close it
