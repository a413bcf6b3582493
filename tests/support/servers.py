"""Servers for the end-to-end tests: a real runapi server (uvicorn on 127.0.0.1, real SQLite file, real storage
dir), small local HTTP servers standing in for customers' callback receivers and image hosts, and the client-side
helpers that drive them. The fixtures that hand them to tests are in tests/e2e/conftest.py.

With RUNAPI_TEST_DATABASE_URL / RUNAPI_TEST_REDIS_URL set (see tests/support/services.py) every test server runs
on a fresh PostgreSQL database of its own and coordinates through Redis instead."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from runapi.api.http_server import uvicorn_options
from runapi.app import create_app
from runapi.auth import admin
from runapi.settings import Settings
from runapi.store import Database
from tests.support.services import create_database, env_database_url, env_redis_url

TEST_KEY = "rk-test-" + "k" * 40


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_settings(tmp: Path, **overrides: Any) -> Settings:
    base = dict(
        data_dir=tmp,
        sqlite_synchronous="NORMAL",
        allow_private_network=True,
        worker_idle_poll_seconds=0.05,
        callback_retry_delays=(0.05,) * 10,
        callback_timeout_seconds=2.0,
        bootstrap_api_key=TEST_KEY,
        bootstrap_credits_cents=100_000,
    )
    if env_database_url() and "database_url" not in overrides:
        base["database_url"] = create_database(env_database_url())
    if env_redis_url() and "redis_url" not in overrides:
        base.update(redis_url=env_redis_url(), redis_channel_prefix=f"t{time.time_ns()}")  # servers stay apart
    base.update(overrides)
    return Settings(**base)


@dataclass
class Server:
    url: str
    settings: Settings
    key: str
    thread: threading.Thread
    uv: uvicorn.Server

    def client(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key or self.key}"}, timeout=30)

    def db_call(self, fn: Callable[[Database], Any]) -> Any:
        """Run a coroutine function against the server's database from the test thread."""

        async def go():
            db = Database(self.settings.resolved_database_url, "NORMAL")
            try:
                return await fn(db)
            finally:
                await db.dispose()

        return asyncio.run(go())

    def stop(self) -> None:
        self.uv.should_exit = True
        self.thread.join(timeout=20)


def start_server(tmp: Path, **overrides: Any) -> Server:
    settings = test_settings(tmp, **overrides)
    port = free_port()
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        **uvicorn_options(settings),
    )
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not uv.started:
        if time.time() > deadline or not thread.is_alive():
            raise RuntimeError("server did not start")
        time.sleep(0.02)
    return Server(f"http://127.0.0.1:{port}", settings, TEST_KEY, thread, uv)


def new_account(server: Server, credits: int = 10_000, email: str | None = None) -> tuple[int, str]:
    async def go(db):
        created = await admin.create_account(db, "Other", email or f"u{time.time_ns()}@example.com", credits)
        key = await admin.mint_key(db, created["account_id"], "api")
        return created["account_id"], key.token

    return server.db_call(go)


def keys_under_guardrails(server: Server, guardrails: dict[str, dict[str, Any]]) -> dict[str, str]:
    """For each name, a new API key of the bootstrap account bound to a new guardrail with that body (made
    through the management API). Returns name → key token."""
    mgmt = server.db_call(lambda db: admin.mint_key(db, 1, "management"))
    keys = {}
    with server.client(mgmt.token) as m:
        for name, body in guardrails.items():
            key = m.post("/api/v1/keys", json={"name": name}).json()
            g = m.post("/api/v1/guardrails", json={"name": name, **body}).json()["guardrail"]
            m.post("/api/v1/guardrail_assignments", json={"guardrail_id": g["id"], "api_token_id": key["id"]})
            keys[name] = key["key"]
    return keys


def wait_for(predicate: Callable[[], Any], timeout: float = 20) -> None:
    """Until `predicate()` is true (polled every 50 ms), or fail the test after `timeout` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def wait_done(client: httpx.Client, path: str, task_id: str, timeout: float = 30) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        body = client.get(f"{path}/{task_id}").json()
        if body.get("status") != "processing":
            return body
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} still processing after {timeout}s")


class Recorder:
    """A local HTTP server: answers with `responder(method, path, headers, body) -> (status, headers, body)`
    and records every request it got."""

    def __init__(self, responder: Callable[[str, str, dict, bytes], tuple[int, dict, bytes]] | None = None):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests: list[dict[str, Any]] = []
        self.responder = responder or (lambda m, p, h, b: (200, {}, b"ok"))
        rec = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                if len(body) < length:
                    return  # the sender died mid-request (crash tests): nothing was delivered
                headers = {k: v for k, v in self.headers.items()}
                rec.requests.append({"method": self.command, "path": self.path, "headers": headers, "body": body})
                status, out_headers, out = rec.responder(self.command, self.path, headers, body)
                self.send_response(status)
                for k, v in out_headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = do_PUT = _handle

            def log_message(self, *args):  # keep test output quiet
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
