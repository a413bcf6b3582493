"""kill -9 of the server (API + in-process workers) while tasks are being created and processed:
on restart every accepted task completes, each is charged exactly once, and every callback arrives."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import httpx
from sqlalchemy import select

from runapi.store import Database
from runapi.store.schema import accounts, ledger, tasks
from tests.support.servers import TEST_KEY, free_port

T2I = "/api/v1/nano_banana/text_to_image"
CREDITS = 100_000


def launch(data_dir, port):
    env = {
        **os.environ,
        "RUNAPI_DATA_DIR": str(data_dir),
        "RUNAPI_BOOTSTRAP_API_KEY": TEST_KEY,
        "RUNAPI_BOOTSTRAP_CREDITS_CENTS": str(CREDITS),
        "RUNAPI_SANDBOX_DELAY_SECONDS": "0.4",
        "RUNAPI_ALLOW_PRIVATE_NETWORK": "true",
        "RUNAPI_WORKER_IDLE_POLL_SECONDS": "0.05",
        "RUNAPI_LEASE_SECONDS": "2",
        "RUNAPI_CALLBACK_RETRY_DELAYS": json.dumps([0.1] * 10),
        "RUNAPI_WORKER_CONCURRENCY": "4",
        "RUNAPI_CALLBACK_TIMEOUT_SECONDS": "2",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "runapi.cli", "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


def create_many(base, n, accepted, errors):
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TEST_KEY}"}, timeout=5) as c:
        for i in range(n):
            try:
                r = c.post(
                    T2I,
                    json={"model": "nano-banana", "prompt": f"p{i} {time.time_ns()}", "callback_url": CALLBACK_URL[0]},
                )
                if r.status_code == 202:
                    accepted.append(r.json()["id"])
                time.sleep(0.05)  # spread creation across the kill
            except httpx.HTTPError:
                errors.append(i)  # the connection died with the server: the task may or may not exist


CALLBACK_URL = [""]


def test_kill_9_loses_nothing_and_charges_once(tmp_path, recorder):
    receiver = recorder()
    CALLBACK_URL[0] = receiver.url + "/cb"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    accepted: list[str] = []
    errors: list[int] = []

    proc = launch(tmp_path, port)
    for round_ in range(3):
        writers = [threading.Thread(target=create_many, args=(base, 15, accepted, errors)) for _ in range(3)]
        for w in writers:
            w.start()
        time.sleep(0.6)  # mid-creation and mid-processing
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        for w in writers:
            w.join()
        proc = launch(tmp_path, port)

    try:
        assert accepted, "no task was accepted"
        assert errors, "the kill never landed during creation"
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TEST_KEY}"}) as c:
            deadline = time.time() + 60
            pending = set(accepted)
            while pending and time.time() < deadline:
                for tid in list(pending):
                    if c.get(f"{T2I}/{tid}").json()["status"] == "completed":
                        pending.discard(tid)
                time.sleep(0.2)
            assert not pending, f"{len(pending)} accepted tasks never completed"

        async def audit(db):
            async with db.read() as conn:
                all_tasks = (await conn.execute(select(tasks.c.id, tasks.c.state, tasks.c.price_cents))).all()
                entries = (
                    await conn.execute(
                        select(ledger.c.task_id, ledger.c.kind, ledger.c.amount_cents).where(
                            ledger.c.task_id.is_not(None)
                        )
                    )
                ).all()
                balance = (await conn.execute(select(accounts.c.balance_cents))).scalar_one()
            return all_tasks, entries, balance

        async def go():
            db = Database(f"sqlite+aiosqlite:///{tmp_path / 'runapi.db'}")
            try:
                # tasks committed by requests whose responses were lost still complete
                deadline = time.time() + 60
                while True:
                    all_tasks, entries, balance = await audit(db)
                    if all(t.state in ("completed", "failed") for t in all_tasks) or time.time() > deadline:
                        return all_tasks, entries, balance
                    await asyncio.sleep(0.2)
            finally:
                await db.dispose()

        import asyncio

        all_tasks, entries, balance = asyncio.run(go())
        assert set(accepted) <= {t.id for t in all_tasks}
        assert all(t.state == "completed" for t in all_tasks)
        kinds = Counter((e.task_id, e.kind) for e in entries)
        for t in all_tasks:
            assert kinds[(t.id, "reserve")] == 1 and kinds[(t.id, "settle")] == 1 and kinds[(t.id, "refund")] == 0
        assert balance == CREDITS - sum(t.price_cents for t in all_tasks)
        assert balance == CREDITS + sum(e.amount_cents for e in entries)

        # every task's callback arrives (at least once; a crash mid-send may repeat one, with the same id);
        # one in flight when the server died is retried when its lease (timeout + 5 s) runs out
        deadline = time.time() + 60
        while time.time() < deadline:
            got = {json.loads(r["body"])["id"] for r in receiver.requests}
            if got >= {t.id for t in all_tasks}:
                break
            time.sleep(0.2)
        assert got >= {t.id for t in all_tasks}
        by_task: dict[str, set] = {}
        for r in receiver.requests:
            by_task.setdefault(json.loads(r["body"])["id"], set()).add(r["headers"]["X-Callback-Id"])
        assert all(len(ids) == 1 for ids in by_task.values())
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
