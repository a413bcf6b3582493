"""The HTTP edge: how uvicorn serves the app, shared by `runapi serve` (one process or --workers N) and the
tests' servers.

uvicorn closes an idle kept-alive connection, but it sets no deadline on a connection that opens and sends
nothing, sends its headers a byte at a time, or stops sending a request body half-way: each holds a socket
(and, for a body, a request) for as long as the client likes. GuardedHttpToolsProtocol adds those deadlines
and a cap on open connections per process.

uvicorn also writes a response's head (status line and headers) and its body in two writes: two system calls
and two TCP segments for every JSON answer, where one does (`JoinedHead`)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..settings import Settings

# Written to a connection past the cap before it is closed: the client learns why, and may retry.
OVERLOADED = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 19\r\nretry-after: 1\r\nconnection: close\r\n\r\nService Unavailable"
)


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout: float  # opening (or a later request's first byte) → its headers complete
    body_idle_timeout: float  # longest pause within a request body
    body_timeout: float  # headers complete → body complete
    max_connections: int  # open at once in one process

    @classmethod
    def from_settings(cls, s: Settings) -> ConnectionLimits:
        return cls(
            s.http_header_timeout_seconds,
            s.http_body_idle_timeout_seconds,
            s.http_body_timeout_seconds,
            s.http_max_connections,
        )


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header and body deadlines and a connection cap. One timer per
    connection, armed for the phase the client is in: waiting for headers, or for the rest of a body."""

    # None: from the RUNAPI_* environment (the processes of `serve --workers N` are started afresh by
    # uvicorn and find their settings there); protocol_with() makes a class with given limits.
    limits: ClassVar[ConnectionLimits | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cls = type(self)
        if cls.limits is None:
            cls.limits = ConnectionLimits.from_settings(Settings())
        self._limits: ConnectionLimits = cls.limits
        # One timer per connection, moved lazily: a phase sets `_due` (loop time; None: no deadline) and the
        # timer is only replaced when the new deadline is earlier than the one it fires at; firing before
        # `_due` it re-arms for the rest. Steady keep-alive traffic re-arms three times a request and would
        # otherwise make and cancel three timer handles each time.
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._due: float | None = None
        self._phase = ""  # "headers" | "body" while a deadline is set
        self._body_deadline = 0.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self._limits.max_connections:
            transport.write(OVERLOADED)
            transport.close()
            return
        self._arm("headers", self._limits.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._due is None:  # a later request on a kept-alive connection: its headers are due in time
            self._arm("headers", self._limits.header_timeout)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self.cycle.transport = JoinedHead(self.transport, self.cycle, self.loop)  # type: ignore[assignment]
        # Until on_message_complete (at once when there is no body): the body must keep coming.
        self._body_deadline = time.monotonic() + self._limits.body_timeout
        self._arm("body", min(self._limits.body_idle_timeout, self._limits.body_timeout))

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        self._arm("body", min(self._limits.body_idle_timeout, self._body_deadline - time.monotonic()))

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()

    def _arm(self, phase: str, seconds: float) -> None:
        self._phase = phase
        due = self._due = self.loop.time() + max(seconds, 0.0)
        if self._timer is None or self._timer_at > due:
            self._schedule(due)

    def _disarm(self) -> None:
        self._due = None  # a timer still pending finds no deadline when it fires, and stops

    def _schedule(self, at: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = at
        self._timer = self.loop.call_at(at, self._fire)

    def _fire(self) -> None:
        self._timer = None
        due = self._due
        if due is None:
            return
        if self.loop.time() < due:  # the deadline moved on since this timer was set
            self._schedule(due)
            return
        self._due = None
        self._expired()

    def _expired(self) -> None:
        if self.transport.is_closing():
            return
        if self.flow.read_paused:
            # The app has not taken what arrived yet: the client is not the one being waited for.
            self._arm(self._phase, self._limits.body_idle_timeout)
            return
        if self._phase == "headers" and self.cycle is not None and not self.cycle.response_complete:
            # The next request's start arrived while this one's answer is still being sent (pipelining):
            # its headers' time starts when reading resumes.
            self._arm("headers", self._limits.header_timeout)
            return
        self.transport.close()  # the app, if it waits for the body, sees a disconnect


class JoinedHead:
    """A request's view of its connection: the response head, the first write once the response has started
    (a `100 Continue` is written before that), is held and goes out with the first body write, in one write.
    If no body write follows in the same turn of the event loop (a stream waiting for its first event, a
    HEAD answer, which writes no body), the head goes out alone at the next turn: nothing waits longer
    than that, and every byte goes out in the order it was written."""

    __slots__ = ("_transport", "_cycle", "_loop", "_head", "_started")

    def __init__(self, transport: asyncio.Transport, cycle: Any, loop: asyncio.AbstractEventLoop):
        self._transport = transport
        self._cycle = cycle
        self._loop = loop
        self._head: bytes | None = None
        self._started = False

    def write(self, data: bytes) -> None:
        head = self._head
        if head is not None:
            self._head = None
            self._transport.write(head + data)
        elif not self._started and self._cycle.response_started:
            self._started = True
            self._head = data
            self._loop.call_soon(self._flush)
        else:
            self._transport.write(data)

    def _flush(self) -> None:
        head = self._head
        if head is not None:
            self._head = None
            if not self._transport.is_closing():
                self._transport.write(head)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def protocol_with(limits: ConnectionLimits) -> type[GuardedHttpToolsProtocol]:
    return type("GuardedHttpToolsProtocol", (GuardedHttpToolsProtocol,), {"limits": limits})


def uvicorn_options(settings: Settings, processes: int = 1) -> dict[str, Any]:
    """Keywords for uvicorn.run / uvicorn.Config: the guarded protocol, keep-alive, proxy headers. With
    several processes the protocol class goes by reference (uvicorn pickles the config for its processes)
    and each process reads the limits from the RUNAPI_* environment, as it reads all its settings."""
    http = GuardedHttpToolsProtocol if processes > 1 else protocol_with(ConnectionLimits.from_settings(settings))
    return {"http": http, "timeout_keep_alive": settings.http_keep_alive_seconds, "proxy_headers": True}
