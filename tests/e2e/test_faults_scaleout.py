"""Scale-out under faults: 2 API processes and 2 worker processes on one PostgreSQL and one Redis take 1,000
tasks with callbacks while processes are kill -9'd and restarted and PostgreSQL itself restarts. Afterwards
every accepted task is terminal, each has exactly one reserve and one settle-or-refund, the balance adds up to
the cent, the API never answered 500 (503 while the database was down), and every task's callback arrived at
a receiver that fails every other attempt, under one X-Callback-Id per task.

Bounded: creation stops after CREATE_SECONDS, the whole test after TOTAL_SECONDS, whatever happens."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections import Counter

import httpx
from sqlalchemy import select

from runapi.store import Database
from runapi.store.schema import accounts, callback_deliveries, ledger, tasks
from tests.support.processes import Cluster, callback_delays
from tests.support.servers import TEST_KEY
from tests.support.services import unavailable

N_TASKS = 1000
CREDITS = 1_000_000
CREATE_SECONDS = 180
TOTAL_SECONDS = 330
LYRICS = "/api/v1/suno/generate_lyrics"  # 1 cent, text result: cheap to make, so the test measures plumbing
IMAGE = "/api/v1/nano_banana/text_to_image"  # 4 cents, a real PNG: one task in ten


class FlakyReceiver:
    """Fails every other delivery of each callback (the first, third, ...): half of all attempts fail."""

    def __init__(self, recorder_factory):
        self.lock = threading.Lock()
        self.attempts: Counter[str] = Counter()  # X-Callback-Id -> deliveries seen
        self.delivered: dict[str, str] = {}  # task id -> X-Callback-Id answered 200
        self.ids_per_task: dict[str, set[str]] = {}
        self.failed = 0
        self.recorder = recorder_factory(self.respond)
        self.url = self.recorder.url + "/cb"

    def respond(self, method, path, headers, body):
        task_id = json.loads(body)["id"]
        cb_id = headers["X-Callback-Id"]
        with self.lock:
            self.attempts[cb_id] += 1
            self.ids_per_task.setdefault(task_id, set()).add(cb_id)
            if self.attempts[cb_id] % 2 == 1:
                self.failed += 1
                return 500, {}, b"try again"
            self.delivered[task_id] = cb_id
        return 200, {}, b"ok"


class Load:
    """Client threads creating tasks round-robin across the API processes until N_TASKS are accepted."""

    def __init__(self, cluster: Cluster, apis, callback_url: str, threads: int = 8):
        self.apis = apis
        self.callback_url = callback_url
        self.accepted: list[str] = []
        self.codes: Counter[int | str] = Counter()
        self.lock = threading.Lock()
        self.seq = itertools.count()
        self.deadline = time.time() + CREATE_SECONDS
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def join(self) -> None:
        for t in self.threads:
            t.join()

    def run(self) -> None:
        clients = [
            httpx.Client(base_url=a.url, headers={"Authorization": f"Bearer {TEST_KEY}"}, timeout=10) for a in self.apis
        ]
        try:
            while len(self.accepted) < N_TASKS and time.time() < self.deadline:
                i = next(self.seq)
                path, body = (
                    (IMAGE, {"model": "nano-banana", "prompt": f"p{i}"})
                    if i % 10 == 0
                    else (LYRICS, {"prompt": f"song {i}"})
                )
                try:
                    r = clients[i % len(clients)].post(path, json={**body, "callback_url": self.callback_url})
                    code: int | str = r.status_code
                except httpx.HTTPError as exc:  # the process was killed: the task may or may not exist
                    code = type(exc).__name__
                with self.lock:
                    self.codes[code] += 1
                    if code == 202:
                        self.accepted.append(r.json()["id"])
                if code != 202:
                    time.sleep(0.1)
        finally:
            for c in clients:
                c.close()


def audit(database_url: str):
    async def go():
        db = Database(database_url)
        try:
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
                deliveries = (
                    await conn.execute(
                        select(callback_deliveries.c.task_id, callback_deliveries.c.id, callback_deliveries.c.state)
                    )
                ).all()
            return all_tasks, entries, balance, deliveries
        finally:
            await db.dispose()

    return asyncio.run(go())


def test_kill_9_and_database_restart_lose_nothing(services, tmp_path, recorder):
    if services.script_env is None:
        unavailable("a PostgreSQL this test can restart (scripts/ci-services.sh sets RUNAPI_SERVICES_DIR)")
    started = time.time()
    receiver = FlakyReceiver(recorder)
    cluster = Cluster(
        services,
        tmp_path,
        settings={
            "RUNAPI_SANDBOX_DELAY_SECONDS": "0.3",
            "RUNAPI_WORKER_IDLE_POLL_SECONDS": "0.5",
            "RUNAPI_LEASE_SECONDS": "3",
            "RUNAPI_CALLBACK_RETRY_DELAYS": callback_delays(0.2),
            "RUNAPI_CALLBACK_TIMEOUT_SECONDS": "2",
            "RUNAPI_WORKER_CONCURRENCY": "16",
            "RUNAPI_BOOTSTRAP_CREDITS_CENTS": str(CREDITS),
            "RUNAPI_AUTH_CACHE_SECONDS": "30",
        },
    )
    apis = [cluster.api(), cluster.api()]
    workers = [cluster.worker(), cluster.worker()]
    kills: Counter[str] = Counter()
    try:
        for proc in apis + workers:  # all at once: migrations and the first account must not race
            cluster.start(proc, wait=False)
        for proc in apis + workers:
            cluster.wait_ready(proc)

        load = Load(cluster, apis, receiver.url)
        load.start()

        def restart(*procs) -> None:
            """kill -9 and start again at once, without waiting: the load goes on meanwhile."""
            for p in procs:
                cluster.kill9(p)
                kills["api" if p.port else "worker"] += 1
            for p in procs:
                cluster.start(p, wait=False)

        def restart_postgres() -> None:
            assert services.restart_postgres(seconds_down=2), "pg_ctl restart failed"
            kills["postgres"] += 1

        chaos = [
            (100, lambda: restart(apis[0])),
            (200, lambda: restart(workers[0])),
            (300, restart_postgres),
            (400, lambda: restart(apis[1])),
            (500, lambda: restart(workers[1])),
            (650, lambda: restart(apis[0], workers[1])),
            (800, lambda: restart(*workers)),
            (900, lambda: restart(apis[1])),
        ]
        for at, act in chaos:
            while len(load.accepted) < at and time.time() < load.deadline:
                time.sleep(0.05)
            if time.time() >= load.deadline:
                break
            act()
            print(f"  at {at} accepted ({time.time() - started:.1f}s): responses so far {dict(load.codes)}")
        load.join()
        created_in = time.time() - started
        for proc in apis + workers:  # the last restarts come up (they were never waited for)
            cluster.wait_ready(proc)

        # Wait (bounded) until every task is terminal and every callback has been answered 200.
        deadline = started + TOTAL_SECONDS
        while True:
            all_tasks, entries, balance, deliveries = audit(cluster.database_url)
            terminal = all(t.state in ("completed", "failed") for t in all_tasks)
            with receiver.lock:
                called_back = {t.id for t in all_tasks} <= set(receiver.delivered)
            if (terminal and called_back) or time.time() > deadline:
                break
            time.sleep(0.5)
        elapsed = time.time() - started

        print(
            f"\nscale-out faults: {len(load.accepted)} accepted of {len(all_tasks)} tasks in the database; "
            f"kills {dict(kills)}; responses {dict(load.codes)}; created in {created_in:.1f}s, all done in "
            f"{elapsed:.1f}s; callbacks answered {len(receiver.delivered)}, failed attempts {receiver.failed}, "
            f"attempts in all {sum(receiver.attempts.values())}"
        )

        assert len(load.accepted) >= N_TASKS, f"only {len(load.accepted)} tasks accepted: {dict(load.codes)}"
        assert kills == {"api": 4, "worker": 5, "postgres": 1}, kills
        server_errors = {c: n for c, n in load.codes.items() if isinstance(c, int) and c >= 500 and c != 503}
        assert not server_errors, f"the API answered {server_errors} (only 503 is acceptable)"
        assert load.codes[503] > 0, "no request saw the database outage"

        ids = {t.id for t in all_tasks}
        assert set(load.accepted) <= ids
        assert all(t.state in ("completed", "failed") for t in all_tasks), Counter(t.state for t in all_tasks)
        kinds = Counter((e.task_id, e.kind) for e in entries)
        for t in all_tasks:
            assert kinds[(t.id, "reserve")] == 1, t
            assert (kinds[(t.id, "settle")], kinds[(t.id, "refund")]) == (
                (1, 0) if t.state == "completed" else (0, 1)
            ), t
        assert balance == CREDITS - sum(t.price_cents for t in all_tasks if t.state == "completed")
        assert balance == CREDITS + sum(e.amount_cents for e in entries)

        # every task's callback arrived, under the one X-Callback-Id its outbox row has
        outbox = {d.task_id: d.id for d in deliveries}
        assert set(outbox) == ids and all(d.state == "delivered" for d in deliveries)
        assert set(receiver.delivered) >= ids
        assert all(receiver.ids_per_task[t] == {outbox[t]} for t in ids)
        assert receiver.failed >= len(ids)  # each was refused once and retried
    finally:
        cluster.stop_all()
        for proc in cluster.procs:
            if proc.popen and proc.popen.returncode not in (0, -9, -15):
                print(f"--- {proc.name} exited {proc.popen.returncode}:\n{cluster.tail(proc)}")
