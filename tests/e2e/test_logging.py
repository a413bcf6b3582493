"""Request ids (echoed, generated, refused when unsafe, on every response including 500s), JSON and text log
lines that carry them, and exactly one access line per request when serving the way `runapi serve` does."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import threading
import time

import httpx
import pytest
import uvicorn
from starlette.routing import Route

from runapi.app import ObservedStarlette, create_app, server_error
from runapi.cli.server_cmds import UVICORN_LOGGING
from runapi.observability.logs import configure_logging
from tests.support.logs import json_lines
from tests.support.servers import free_port
from tests.support.servers import test_settings as settings_for

HEX_ID = re.compile(r"^[0-9a-f]{32}$")


def wait_for_lines(stream: io.StringIO, predicate, timeout: float = 10) -> list[dict]:
    """The access line is written after the response is sent, so the client can be a moment ahead of it."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        lines = json_lines(stream)
        if any(predicate(line) for line in lines):
            return lines
        time.sleep(0.02)
    raise AssertionError(f"no matching log line in:\n{stream.getvalue()}")


def test_request_id_is_echoed_or_generated(api):
    assert api.get("/health", headers={"X-Request-Id": "trace-abc-123"}).headers["x-request-id"] == "trace-abc-123"
    assert HEX_ID.match(api.get("/health").headers["x-request-id"])
    # on errors too, and the id differs per request
    first, second = api.get("/nowhere").headers["x-request-id"], api.get("/nowhere").headers["x-request-id"]
    assert HEX_ID.match(first) and first != second


def test_unsafe_request_ids_are_replaced(api):
    for unsafe in ("x" * 129, "tab\there", ""):
        returned = api.get("/health", headers={"X-Request-Id": unsafe}).headers["x-request-id"]
        assert HEX_ID.match(returned), unsafe


def test_json_access_line_per_request(api, captured_logs):
    stream = captured_logs("json")
    resp = api.get("/api/v1/me/balance?secret=dont-log-me", headers={"X-Request-Id": "json-req-1"})
    assert resp.status_code == 200
    lines = wait_for_lines(stream, lambda line: line.get("request_id") == "json-req-1")
    access = [line for line in lines if line["logger"] == "runapi.access" and line["request_id"] == "json-req-1"]
    assert len(access) == 1
    line = access[0]
    assert {"ts", "level", "logger", "msg", "request_id"} <= set(line)
    assert line["level"] == "INFO" and line["method"] == "GET" and line["status"] == 200
    assert line["path"] == "/api/v1/me/balance" and "dont-log-me" not in json.dumps(line)
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$", line["ts"])


def test_text_lines_carry_the_request_id(api, captured_logs):
    stream = captured_logs("text")
    api.get("/health", headers={"X-Request-Id": "text-req-9"})
    deadline = time.time() + 10
    while "text-req-9" not in stream.getvalue() and time.time() < deadline:
        time.sleep(0.02)
    line = next(line for line in stream.getvalue().splitlines() if "[text-req-9]" in line)
    assert " INFO runapi.access [text-req-9] GET /health 200 " in line


def test_unhandled_errors_answer_500_with_the_request_id_logged(captured_logs):
    """The observer sits outside Starlette's error middleware: the 500 it sends has the header, is counted,
    and the error log line names the request."""

    async def boom(request):
        raise RuntimeError("kaboom")

    app = ObservedStarlette(routes=[Route("/boom", boom)], exception_handlers={Exception: server_error})
    stream = captured_logs("json")

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/boom", headers={"X-Request-Id": "boom-1"})

    resp = asyncio.run(call())
    assert resp.status_code == 500 and resp.headers["x-request-id"] == "boom-1"
    lines = [line for line in json_lines(stream) if line["request_id"] == "boom-1"]
    error = next(line for line in lines if line["level"] == "ERROR")
    assert "RuntimeError: kaboom" in error["exc"]
    assert any(line["logger"] == "runapi.access" and line["status"] == 500 for line in lines)


@pytest.fixture
def configured_like_serve():
    """configure_logging as `runapi serve` calls it, writing to a buffer; the logging setup is restored after."""
    names = ("", "uvicorn", "uvicorn.error", "uvicorn.access")
    saved = {
        name: (list(logging.getLogger(name).handlers), logging.getLogger(name).level, logging.getLogger(name).propagate)
        for name in names
    }
    stream = io.StringIO()
    configure_logging("json", "info", stream)
    yield stream
    for name, (handlers, level, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


def test_serving_like_runapi_serve_writes_one_access_line(tmp_path, configured_like_serve):
    """uvicorn run with the options `runapi serve` uses must not add its own access line to ours, and its
    own lines come out in the same JSON format."""
    stream = configured_like_serve
    port = free_port()
    config = uvicorn.Config(
        create_app(settings_for(tmp_path)),
        host="127.0.0.1",
        port=port,
        log_level="info",
        lifespan="on",
        **UVICORN_LOGGING,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.time() + 20
        while not server.started and time.time() < deadline:
            time.sleep(0.02)
        httpx.get(f"http://127.0.0.1:{port}/health", headers={"X-Request-Id": "once-1"})
        lines = wait_for_lines(stream, lambda line: line.get("request_id") == "once-1")
    finally:
        server.should_exit = True
        thread.join(timeout=20)
    server_side = [line for line in lines if line["logger"].startswith(("uvicorn", "runapi"))]
    about_it = [line for line in server_side if "/health" in line["msg"]]
    assert len(about_it) == 1 and about_it[0]["logger"] == "runapi.access"
    assert any(line["logger"] == "uvicorn.error" for line in server_side)
