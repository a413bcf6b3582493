"""Hostile callback receivers and hostile clients (issue 11, items 2 and 5), with bounded sizes and time.

A receiver that answers 200 and then drips its body gets one POST per attempt (never a second one while the
first is in flight), and every attempt counts towards the retry cap. One account's dripping receivers do not
hold the delivery slots another account's callback needs. A connection that sends nothing, or sends its
headers (or body) a byte at a time, is closed; a normal keep-alive client is served."""

from __future__ import annotations

import logging
import os
import select as io_select
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from runapi.store.schema import callback_attempts, callback_deliveries
from tests.support.servers import free_port, new_account, start_server, wait_done, wait_for

T2I = "/api/v1/nano_banana/text_to_image"


class DripReceiver:
    """Answers every POST with 200 and a declared body it then sends one byte every `interval` seconds,
    for at most `seconds` (or until the sender hangs up). Counts POSTs and how many are open at once."""

    def __init__(self, interval: float = 0.1, seconds: float = 20.0):
        self.posts: list[dict[str, Any]] = []
        self.open = 0
        self.max_open = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        rec = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with rec.lock:
                    rec.posts.append({"headers": dict(self.headers.items()), "body": body, "at": time.time()})
                    rec.open += 1
                    rec.max_open = max(rec.max_open, rec.open)
                try:
                    n = int(seconds / interval)
                    self.send_response(200)
                    self.send_header("Content-Length", str(n))
                    self.end_headers()
                    for _ in range(n):
                        # readable while we only write: the sender hung up (EOF), so this request is over
                        if io_select.select([self.connection], [], [], interval)[0] or rec.stopping.is_set():
                            break
                        self.wfile.write(b"x")
                except OSError:
                    pass  # the sender gave up on us
                finally:
                    with rec.lock:
                        rec.open -= 1

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def drip():
    made: list[DripReceiver] = []

    def make(**kw) -> DripReceiver:
        r = DripReceiver(**kw)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


@pytest.fixture(scope="module")
def cb_server(tmp_path_factory):
    # 0.5 s per attempt, a lease of 5.5 s, 1 try + 3 retries: a drip of 20 s outlives the lease 3 times over.
    srv = start_server(
        tmp_path_factory.mktemp("abuse-cb"), callback_timeout_seconds=0.5, callback_retry_delays=(0.05,) * 3
    )
    yield srv
    srv.stop()


def delivery(server, task_id):
    async def go(db):
        async with db.read() as conn:
            d = (
                (await conn.execute(select(callback_deliveries).where(callback_deliveries.c.task_id == task_id)))
                .mappings()
                .one_or_none()
            )
            if d is None:
                return None, []
            rows = (
                (
                    await conn.execute(
                        select(callback_attempts)
                        .where(callback_attempts.c.delivery_id == d["id"])
                        .order_by(callback_attempts.c.attempt)
                    )
                )
                .mappings()
                .all()
            )
            return dict(d), [dict(a) for a in rows]

    return server.db_call(go)


def test_a_dripping_receiver_gets_one_post_per_attempt_and_every_attempt_counts(cb_server, drip):
    receiver = drip(interval=0.1, seconds=20)
    with cb_server.client() as api:
        task_id = api.post(
            T2I, json={"model": "nano-banana", "prompt": "x", "callback_url": f"{receiver.url}/cb"}
        ).json()["id"]
        wait_for(lambda: (delivery(cb_server, task_id)[0] or {}).get("state") == "failed", timeout=15)
    d, attempts = delivery(cb_server, task_id)
    assert receiver.max_open == 1  # never re-sent while an attempt was still in flight
    assert len(receiver.posts) == 4 and d["attempts"] == 4  # the first try and 3 retries, then given up
    assert [a["attempt"] for a in attempts] == [1, 2, 3, 4]
    assert all(a["error"] == "timeout" and a["status_code"] == 200 for a in attempts)
    assert {p["headers"]["X-Callback-Id"] for p in receiver.posts} == {d["id"]}


def test_one_accounts_dripping_receivers_do_not_delay_anothers_callback(cb_server, drip, recorder):
    attacker = drip(interval=0.1, seconds=20)
    _, attacker_key = new_account(cb_server)
    with cb_server.client(attacker_key) as a:
        for i in range(16):
            assert (
                a.post(
                    T2I, json={"model": "nano-banana", "prompt": f"a{i}", "callback_url": f"{attacker.url}/cb{i}"}
                ).status_code
                == 202
            )
    wait_for(lambda: attacker.open >= 2)  # the attack is under way
    victim = recorder()
    with cb_server.client() as api:
        created = time.time()
        task_id = api.post(T2I, json={"model": "nano-banana", "prompt": "b", "callback_url": victim.url}).json()["id"]
        wait_done(api, T2I, task_id)
        # Bounded well below the attacker's drip (20 s): before, every slot stayed with the attacker until then.
        wait_for(lambda: victim.requests, timeout=8)
    print(
        f"\nvictim callback {time.time() - created:.2f}s after its task was created; attacker connections "
        f"open: {attacker.open}, at most {attacker.max_open} at once, {len(attacker.posts)} POSTs"
    )
    assert attacker.open > 0  # delivered while the attack went on, not after it


# --- slow connections (item 5) -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def edge_server(tmp_path_factory):
    srv = start_server(
        tmp_path_factory.mktemp("abuse-edge"),
        http_header_timeout_seconds=0.5,
        http_body_idle_timeout_seconds=0.5,
        http_keep_alive_seconds=3,
    )
    yield srv
    srv.stop()


def connect(server) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    s = socket.create_connection((host, int(port)), timeout=10)
    return s


def closed_by_server(s: socket.socket, trickle: bytes = b"", every: float = 0.1) -> bool:
    """Send `trickle` one byte every `every` seconds (then nothing) until the server closes the connection:
    True once it has, False if it was still open after 10 s (the bound)."""
    deadline = time.time() + 10
    s.settimeout(every)
    i = 0
    while time.time() < deadline:
        try:
            if s.recv(65536) == b"":
                return True
        except TimeoutError:
            pass
        except ConnectionResetError:
            return True
        if i < len(trickle):
            try:
                s.sendall(trickle[i : i + 1])
            except OSError:
                return True
            i += 1
    return False


def test_an_idle_connection_is_closed(edge_server):
    with connect(edge_server) as s:
        assert closed_by_server(s)


def test_headers_sent_a_byte_at_a_time_are_cut_off(edge_server):
    slow = b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-Pad-%d: y\r\n" % i for i in range(200))
    with connect(edge_server) as s:
        assert closed_by_server(s, slow)


def test_a_body_that_stops_arriving_is_cut_off(edge_server, caplog):
    caplog.set_level(logging.INFO)
    with connect(edge_server) as s:
        s.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + edge_server.key.encode() + b"\r\nContent-Length: 1000\r\n\r\n{"
        )
        assert closed_by_server(s)
    # the handler waiting for that body ends quietly: a client gone is not a server error
    wait_for(
        lambda: any(r.name == "runapi.access" and "/v1/chat/completions" in r.getMessage() for r in caplog.records)
    )
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_keep_alive_client_is_served_across_pauses(edge_server):
    request = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
    with connect(edge_server) as s:
        for _ in range(3):
            s.sendall(request)
            got = b""
            while b"\r\n\r\n" not in got:
                got += s.recv(65536)
            assert got.startswith(b"HTTP/1.1 200")
            time.sleep(1.0)  # idle longer than the header timeout, within keep-alive


def test_connections_past_the_cap_are_refused(tmp_path):
    srv = start_server(tmp_path, http_max_connections=3)
    try:
        held = [connect(srv) for _ in range(3)]
        with connect(srv) as extra:
            extra.settimeout(10)
            answer = extra.recv(65536)
        assert answer.startswith(b"HTTP/1.1 503")
        for s in held:
            s.close()
        wait_for(lambda: _health(srv))
    finally:
        srv.stop()


@pytest.mark.parametrize("processes", [1, 2])
def test_runapi_serve_applies_the_limits(tmp_path, processes):
    port = free_port()
    env = {
        **os.environ,
        "RUNAPI_DATA_DIR": str(tmp_path),
        "RUNAPI_HTTP_HEADER_TIMEOUT_SECONDS": "0.5",
        "RUNAPI_HTTP_MAX_CONNECTIONS": "50",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "runapi.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(processes),
            "--no-task-workers",
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _health(url), timeout=30)
        for _ in range(processes * 2):  # connections land on either process
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                assert closed_by_server(s)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


def _health(where) -> bool:
    try:
        if isinstance(where, str):
            return httpx.get(f"{where}/health", timeout=2).status_code == 200
        with where.client() as c:
            return c.get("/health").status_code == 200
    except httpx.HTTPError:
        return False
