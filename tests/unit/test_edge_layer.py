"""The access line written without a LogRecord is byte for byte the line logging wrote (text and JSON, for
answers, errors, streams, 404/405 and escaped paths), and buffered lines are never lost on a clean exit and
keep their order."""

from __future__ import annotations

import asyncio
import io
import logging
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route

from runapi.app import ObservedStarlette, api_error, http_error, server_error
from runapi.errors import ApiError, RunapiError, task_not_found
from runapi.observability import middleware
from runapi.observability.logs import ACCESS_LOGGER, LogHandler, access_handler, configure_logging
from runapi.observability.metrics import HTTP_REQUESTS

access_log = logging.getLogger(ACCESS_LOGGER)


async def ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("fine")


async def boom(request: Request) -> PlainTextResponse:
    raise RuntimeError("kaboom")


async def refused(request: Request) -> PlainTextResponse:
    raise task_not_found()


async def teapot(request: Request) -> PlainTextResponse:
    raise HTTPException(418, "short and stout")


async def stream(request: Request) -> StreamingResponse:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"data: 1\n\n"
        yield b"data: 2\n\n"

    return StreamingResponse(chunks(), media_type="text/event-stream")


async def broken_stream(request: Request) -> StreamingResponse:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"data: 1\n\n"
        raise RuntimeError("mid-stream")

    return StreamingResponse(chunks(), media_type="text/event-stream")


ROUTES = [
    Route("/ok", ok),
    Route("/boom", boom),
    Route("/api/v1/refused", refused),
    Route("/v1/refused", refused),
    Route("/teapot", teapot),
    Route("/stream", stream),
    Route("/broken", broken_stream),
    Route("/naïve/50%", ok),
]
# (method, path): errors, a stream, a stream failing half-way, routing's 404 and 405, a path to escape
REQUESTS = [
    ("GET", "/ok"),
    ("GET", "/boom"),
    ("GET", "/api/v1/refused"),
    ("GET", "/v1/refused"),
    ("GET", "/teapot"),
    ("GET", "/stream"),
    ("GET", "/broken"),
    ("GET", "/nowhere"),
    ("POST", "/ok"),
    ("GET", "/na%C3%AFve/50%25"),
]
HANDLERS = {
    ApiError: api_error,
    RunapiError: api_error,
    HTTPException: http_error,
    Exception: server_error,
}


def make_app() -> ObservedStarlette:
    return ObservedStarlette(routes=ROUTES, exception_handlers=HANDLERS)


async def call_all(app: ObservedStarlette) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    answers = []
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for n, (method, path) in enumerate(REQUESTS):
            answers.append(await client.request(method, path, headers={"X-Request-Id": f"edge-{n}"}))
    return answers


@pytest.fixture
def logs() -> Iterator[None]:
    """Logging as configure_logging leaves it, restored afterwards."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, list(access_log.filters), logging._srcfile)
    yield
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    access_log.filters[:] = saved[2]
    logging._srcfile = saved[3]


def run_logged(log_format: str, *, fast: bool, monkeypatch: pytest.MonkeyPatch) -> str:
    stream = io.StringIO()
    configure_logging(log_format, "INFO", stream)
    ticks = iter(range(10_000))
    # A fixed wall clock and a perf counter that advances 1.5 ms per read: both runs' lines can be compared.
    monkeypatch.setattr("time.time", lambda: 1_780_000_000.123456)
    monkeypatch.setattr(middleware, "perf_counter", lambda: next(ticks) * 0.0015)
    if fast:
        assert isinstance(access_handler(access_log), LogHandler)

        def no_record(*args: object, **kwargs: object) -> logging.LogRecord:
            raise AssertionError("an access line built a LogRecord")

        monkeypatch.setattr(access_log, "makeRecord", no_record)
    else:
        access_log.addFilter(lambda record: True)  # any filter on the logger: logging's own way
        assert access_handler(access_log) is None
    asyncio.run(call_all(make_app()))
    monkeypatch.undo()
    access_log.filters.clear()
    return stream.getvalue()


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_access_lines_without_a_log_record_are_the_same_bytes(log_format, monkeypatch, logs):
    slow = run_logged(log_format, fast=False, monkeypatch=monkeypatch)
    fast = run_logged(log_format, fast=True, monkeypatch=monkeypatch)
    assert fast == slow  # every line, errors' tracebacks included, in the same order
    access = [line for line in fast.splitlines() if ACCESS_LOGGER in line]
    assert len(access) == len(REQUESTS)
    if log_format == "text":
        assert access[0].endswith(" INFO runapi.access [edge-0] GET /ok 200 1.50ms")
        assert "GET /naïve/50% 200" in access[-1]


def test_a_capture_handler_or_other_formatter_takes_logging_own_path(logs):
    configure_logging("text", "INFO", io.StringIO())
    assert isinstance(access_handler(access_log), LogHandler)
    root = logging.getLogger()
    root.handlers[0].setFormatter(logging.Formatter("%(message)s"))
    assert access_handler(access_log) is None
    configure_logging("text", "INFO", io.StringIO())
    root.addHandler(logging.StreamHandler(io.StringIO()))
    assert access_handler(access_log) is None
    configure_logging("text", "WARNING", io.StringIO())
    assert not access_log.isEnabledFor(logging.INFO)  # the observer checks this first: no line at all


def test_buffered_lines_go_out_at_the_next_turn_and_before_any_other_record(logs):
    stream = io.StringIO()
    configure_logging("text", "INFO", stream)
    handler = access_handler(access_log)
    assert handler is not None

    async def scenario() -> tuple[str, str]:
        handler.access_line("GET /a 200 1.00ms", "r-1", {})
        pending = stream.getvalue()  # buffered until this turn ends
        logging.getLogger("runapi.api").warning("after the access line")
        ordered = stream.getvalue()
        handler.access_line("GET /b 200 1.00ms", "r-2", {})
        await asyncio.sleep(0)
        return pending, ordered

    pending, ordered = asyncio.run(scenario())
    assert pending == ""
    lines = ordered.splitlines()
    assert lines[0].endswith("[r-1] GET /a 200 1.00ms") and lines[1].endswith("after the access line")
    assert stream.getvalue().splitlines()[2].endswith("[r-2] GET /b 200 1.00ms")


def test_a_clean_exit_writes_the_buffered_lines():
    """The loop never gets to write the line; the interpreter's logging.shutdown flushes the handler."""
    script = (
        "import asyncio, logging\n"
        "from runapi.observability.logs import configure_logging, access_handler\n"
        "configure_logging('text')\n"
        "handler = access_handler(logging.getLogger('runapi.access'))\n"
        "async def main():\n"
        "    handler.access_line('GET /last 200 1.00ms', 'bye-1', {})\n"
        "    raise SystemExit(0)\n"
        "asyncio.new_event_loop().run_until_complete(main())\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.rstrip().endswith("INFO runapi.access [bye-1] GET /last 200 1.00ms")


def counts() -> dict[tuple[str, ...], float]:
    return {
        tuple(sample.labels.values()): sample.value
        for metric in HTTP_REQUESTS.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    }
