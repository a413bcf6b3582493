"""Several runapi processes on one PostgreSQL + Redis: what one process does, the others learn at once.
Caches and polls are set to an hour here, so only a coordination signal can explain each outcome."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from runapi.auth import admin
from runapi.store import Database
from tests.support.processes import Cluster
from tests.support.servers import TEST_KEY

LYRICS = "/api/v1/suno/generate_lyrics"
HOUR = "3600"


def eventually(check, what: str, timeout: float = 30):
    """Poll `check` until it returns something truthy; fail after `timeout` (a bound, not a measure)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.05)
    pytest.fail(f"never happened: {what}")


def management_key(cluster: Cluster) -> str:
    async def go() -> str:
        db = Database(cluster.database_url)
        try:
            return (await admin.mint_key(db, 1, "management", name="ops")).token
        finally:
            await db.dispose()

    return asyncio.run(go())


def client(proc, key: str = TEST_KEY) -> httpx.Client:
    return httpx.Client(base_url=proc.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


@pytest.fixture
def cluster(services, tmp_path):
    made = Cluster(
        services, tmp_path, settings={"RUNAPI_AUTH_CACHE_SECONDS": HOUR, "RUNAPI_WORKER_IDLE_POLL_SECONDS": HOUR}
    )
    yield made
    made.stop_all()


def test_a_disabled_key_is_refused_by_every_process_at_once(cluster):
    a, b = cluster.api(), cluster.api()
    for proc in (a, b):
        cluster.start(proc)
    with client(a, management_key(cluster)) as mgmt:
        created = mgmt.post("/api/v1/keys", json={"name": "shared"}).json()
        with client(b, created["key"]) as on_b:
            assert on_b.get("/api/v1/me/balance").status_code == 200  # now cached in b for an hour
            assert mgmt.patch(f"/api/v1/keys/{created['id']}", json={"enabled": False}).status_code == 200
            eventually(lambda: on_b.get("/api/v1/me/balance").status_code == 401, "b refuses the disabled key")
            assert mgmt.patch(f"/api/v1/keys/{created['id']}", json={"enabled": True}).status_code == 200
            eventually(lambda: on_b.get("/api/v1/me/balance").status_code == 200, "b accepts it again")
            assert mgmt.delete(f"/api/v1/keys/{created['id']}").status_code in (200, 204)
            eventually(lambda: on_b.get("/api/v1/me/balance").status_code == 401, "b refuses the deleted key")


def test_an_api_only_process_wakes_workers_elsewhere_and_hears_them_finish(cluster):
    api, worker = cluster.api(), cluster.worker()
    for proc in (api, worker):
        cluster.start(proc)
    with client(api) as c:
        task_id = c.post(LYRICS, json={"prompt": "a song about queues"}).json()["id"]
        # the worker polls once an hour: only the wake-up from the API process gets it going
        eventually(lambda: c.get(f"{LYRICS}/{task_id}").json()["status"] == "completed", "task completes")
        # synchronous endpoint: the API process waits for a task another process runs
        r = c.post("/api/v1/suno/boost_style", json={"description": "Pop, Mysterious"})
        assert r.status_code == 200, r.text


def children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def test_serve_workers_runs_n_api_processes_and_replaces_one_that_dies(cluster):
    serve = cluster.serve("--workers", "2", "--no-task-workers")
    worker = cluster.worker()
    cluster.start(serve)
    cluster.start(worker)
    # multiprocessing may add a resource tracker; the API processes are the ones serving our port
    api_pids = eventually(
        lambda: (p := {c for c in children(serve.popen.pid) if _listens(c)}) and len(p) == 2 and p, "two API processes"
    )
    victim = min(api_pids)
    os.kill(victim, signal.SIGKILL)
    eventually(
        lambda: (p := {c for c in children(serve.popen.pid) if _listens(c)}) and len(p) == 2 and victim not in p,
        "the dead API process is replaced",
    )
    with client(serve) as c:
        for i in range(10):
            r = c.post(LYRICS, json={"prompt": f"after the crash {i}"})
            assert r.status_code == 202, r.text
        eventually(lambda: c.get(f"{LYRICS}/{r.json()['id']}").json()["status"] == "completed", "task completes")


def _listens(pid: int) -> bool:
    """A uvicorn worker process (not multiprocessing's helpers): it has our app imported, i.e. a cmdline of
    multiprocessing spawn and open sockets. Cheap proxy: the process has a socket fd."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        if b"resource_tracker" in cmdline:
            return False
        return any(os.readlink(fd).startswith("socket:") for fd in Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False
