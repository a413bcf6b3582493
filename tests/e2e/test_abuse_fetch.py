"""One tenant must not stall the others through slow input URLs (issue 11, item 1).

A drip host answers one byte every 0.2 s: no per-read timeout ever fires, so only a total deadline (1 s
here) ends the download. Every scenario is bounded: the drip host stops after 15 s and each wait below is
a few seconds, so on the code before the fix these tests fail rather than hang."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest

from tests.support.drip import PNG, DripServer
from tests.support.servers import Recorder, new_account, start_server, wait_done, wait_for

EDIT = "/api/v1/nano_banana/edit_image"
T2I = "/api/v1/nano_banana/text_to_image"


@pytest.fixture
def drip():
    host = DripServer(interval=0.2, max_seconds=15)
    yield host
    host.close()


@pytest.fixture
def make_server(tmp_path):
    made = []

    def make(**overrides):
        srv = start_server(tmp_path / str(len(made)), **overrides)
        made.append(srv)
        return srv

    yield make
    for srv in made:
        srv.stop()


def edit_body(url: str) -> dict:
    return {"model": "nano-banana-edit", "prompt": "x", "source_image_urls": [url]}


def test_upload_from_a_drip_url_times_out_at_the_total_deadline(make_server, drip):
    srv = make_server(fetch_timeout_seconds=5.0, fetch_deadline_seconds=1.0)
    with httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {srv.key}"}, timeout=8) as c:
        resp = c.post("/api/v1/files", json={"source": {"type": "url", "url": f"{drip.url}/slow.png"}})
    assert resp.status_code == 408, resp.text
    assert resp.json() == {"error": {"code": "download_timeout", "message": "Download timeout"}}
    wait_for(lambda: drip.open == 0, timeout=5)  # the connection was dropped, not left dripping


def test_drip_edit_tasks_of_one_account_do_not_stall_another(make_server, drip):
    srv = make_server(worker_concurrency=3, fetch_timeout_seconds=5.0, fetch_deadline_seconds=1.0)
    _, other_key = new_account(srv)
    with srv.client() as a, srv.client(other_key) as b:
        attack = [a.post(EDIT, json=edit_body(f"{drip.url}/a{i}.png")).json()["id"] for i in range(8)]
        wait_for(lambda: drip.open >= 1, timeout=5)  # the attacker holds a worker slot
        quick = b.post(T2I, json={"model": "nano-banana", "prompt": "a quick cat"}).json()["id"]
        assert wait_done(b, T2I, quick, timeout=5)["status"] == "completed"
        states = [a.get(f"{EDIT}/{t}").json()["status"] for t in attack]
        assert states.count("processing") >= 4, states  # B finished while A's were still stuck
        # and A's own tasks end at the fetch deadline, failed and refunded, instead of holding slots
        before = a.get("/api/v1/me/balance").json()["balance_cents"]
        done = [wait_done(a, EDIT, t, timeout=20) for t in attack]
        assert {d["status"] for d in done} == {"failed"}
        assert all("Failed to fetch the image" in d["error"] for d in done), done
        assert a.get("/api/v1/me/balance").json()["balance_cents"] > before


def test_the_task_timeout_cuts_a_step_short(make_server, drip):
    srv = make_server(task_timeout_seconds=1.0, fetch_timeout_seconds=30.0, fetch_deadline_seconds=30.0)
    with srv.client() as c:
        before = c.get("/api/v1/me/balance").json()["balance_cents"]
        task = c.post(EDIT, json=edit_body(f"{drip.url}/slow.png")).json()["id"]
        wait_for(lambda: drip.open >= 1, timeout=5)
        done = wait_done(c, EDIT, task, timeout=5)
        assert done["status"] == "failed" and done["error"] == "Task timed out", done
        assert c.get("/api/v1/me/balance").json()["balance_cents"] == before  # refunded
    wait_for(lambda: drip.open == 0, timeout=5)


def test_step_deadline_frees_a_worker_slot(make_server, drip):
    """A step that outlives its own deadline gives its slot back and is retried with backoff."""
    srv = make_server(
        worker_concurrency=1,
        task_step_timeout_seconds=1.0,
        fetch_timeout_seconds=30.0,
        fetch_deadline_seconds=30.0,
        max_task_attempts=1,
    )
    with srv.client() as c:
        task = c.post(EDIT, json=edit_body(f"{drip.url}/slow.png")).json()["id"]
        wait_for(lambda: drip.open >= 1, timeout=5)
        done = wait_done(c, EDIT, task, timeout=5)
        assert done["status"] == "failed", done
        quick = c.post(T2I, json={"model": "nano-banana", "prompt": "after"}).json()["id"]
        assert wait_done(c, T2I, quick, timeout=5)["status"] == "completed"


def test_slow_uploads_of_one_account_do_not_starve_anothers_upload(make_server, drip):
    # more slow uploads than the shared outbound pool has connections (100)
    srv = make_server(fetch_timeout_seconds=3.0, fetch_deadline_seconds=1.5)
    _, other_key = new_account(srv)
    fast = Recorder(lambda m, p, h, b: (200, {"Content-Type": "image/png"}, PNG))
    statuses: list[int] = []

    async def flood() -> None:
        async with httpx.AsyncClient(
            base_url=srv.url,
            headers={"Authorization": f"Bearer {srv.key}"},
            timeout=15,
            limits=httpx.Limits(max_connections=None),
        ) as a:

            async def one(i: int) -> None:
                try:
                    r = await a.post("/api/v1/files", json={"source": {"type": "url", "url": f"{drip.url}/s{i}.png"}})
                    statuses.append(r.status_code)
                except httpx.HTTPError:
                    statuses.append(0)

            await asyncio.gather(*(one(i) for i in range(104)))

    attacker = threading.Thread(target=lambda: asyncio.run(flood()))
    attacker.start()
    try:
        wait_for(lambda: drip.served >= 4, timeout=5)
        try:  # let the whole flood arrive (without a per-account cap it fills the pool)
            wait_for(lambda: drip.served >= 100, timeout=1.5)
        except AssertionError:
            pass
        with srv.client(other_key) as b:
            resp = b.post("/api/v1/files", json={"source": {"type": "url", "url": f"{fast.url}/ok.png"}})
        assert resp.status_code == 201, resp.text
    finally:
        attacker.join(20)
        fast.close()
    assert len(statuses) == 104 and set(statuses) == {408}, sorted(set(statuses))
