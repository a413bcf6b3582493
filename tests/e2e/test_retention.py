"""Retention (issue 17, item 2), on SQLite and PostgreSQL: generated files go when their links expire (the task
stays and still answers in its documented shape, its links answer 410), finished and settled tasks go after
their days with everything hanging off them, usage rows after theirs, the ledger never; every run is bounded by
its batch; runs at once share the work; nothing is left orphaned (an object no row names, a row naming a
deleted object, callback rows of a deleted task). Also `runapi admin storage` and `runapi admin expire`."""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import delete, func, insert, select, update

from runapi.llm.openai_responses import stored as stored_responses
from runapi.retention import Retention, run_expiry
from runapi.storage import LocalStorage
from runapi.store import Database
from runapi.store.schema import (
    callback_attempts,
    callback_deliveries,
    ledger,
    open_reservations,
    tasks,
    usage_events,
)
from runapi.tasks.retention import result_keys
from tests.support.cli import cli
from tests.support.servers import new_account, start_server, wait_done, wait_for

DAY = 86_400
PATH = "/api/v1/nano_banana/text_to_image"


@pytest.fixture(scope="module")
def srv(db_backend, tmp_path_factory):
    """A server whose own retention loop stays out of the way (it runs once at start, then a day later): the
    tests run the passes themselves."""
    data_dir = tmp_path_factory.mktemp(f"ret-{db_backend.name}")
    server = start_server(data_dir, retention_interval_seconds=DAY, **db_backend.server_settings(data_dir))
    yield server
    server.stop()


def _storage(srv) -> LocalStorage:
    return LocalStorage(srv.settings.resolved_storage_dir)


def _expire(srv, policy: Retention | None = None):
    return srv.db_call(lambda db: run_expiry(db, _storage(srv), policy or Retention()))


def _make(srv, key: str, n: int = 1, callback_url: str | None = None) -> list[dict]:
    out = []
    with srv.client(key) as c:
        for i in range(n):
            body = {"model": "nano-banana", "prompt": f"retention {i}"}
            if callback_url:
                body["callback_url"] = callback_url
            made = c.post(PATH, json=body)
            assert made.status_code == 202, made.text
            out.append(wait_done(c, PATH, made.json()["id"]))
    return out


def _age(srv, ids: list[str], days: float) -> None:
    """Make these tasks look as if they finished `days` ago."""
    at = time.time() - days * DAY

    async def go(db: Database):
        async with db.write() as conn:
            await conn.execute(update(tasks).where(tasks.c.id.in_(ids)).values(completed_at=at, created_at=at))

    srv.db_call(go)


def _rows(srv, table, *where) -> int:
    async def go(db: Database):
        async with db.read() as conn:
            return (await conn.execute(select(func.count()).select_from(table).where(*where))).scalar_one()

    return srv.db_call(go)


def _task_row(srv, task_id: str):
    async def go(db: Database):
        async with db.read() as conn:
            return (await conn.execute(select(tasks).where(tasks.c.id == task_id))).mappings().first()

    return srv.db_call(go)


def assert_no_orphans(srv) -> None:
    """No object under generated/ that no kept task names (by its folder), no kept task's result naming a missing
    object, no callback delivery without its task, no attempt without its delivery."""
    storage = _storage(srv)

    async def go(db: Database):
        async with db.read() as conn:
            rows = (await conn.execute(select(tasks.c.id, tasks.c.result, tasks.c.outputs_expired_at))).all()
            lost_deliveries = (
                await conn.execute(
                    select(func.count())
                    .select_from(callback_deliveries)
                    .where(callback_deliveries.c.task_id.not_in(select(tasks.c.id)))
                )
            ).scalar_one()
            lost_attempts = (
                await conn.execute(
                    select(func.count())
                    .select_from(callback_attempts)
                    .where(callback_attempts.c.delivery_id.not_in(select(callback_deliveries.c.id)))
                )
            ).scalar_one()
        return rows, lost_deliveries, lost_attempts

    rows, lost_deliveries, lost_attempts = srv.db_call(go)
    assert (lost_deliveries, lost_attempts) == (0, 0)
    kept = {r.id: r for r in rows if r.outputs_expired_at is None}
    objects = asyncio.run(storage.keys_under("generated/"))
    strays = [k for k in objects if k.split("/")[1] not in kept]
    assert strays == [], "objects no kept task names"
    for r in kept.values():
        for key in result_keys(r.result):
            assert (srv.settings.resolved_storage_dir / key).is_file(), f"{r.id} names a missing {key}"


def _unsigned(url: str) -> bool:
    return urlsplit(url).query == ""


def test_generated_files_expire_and_the_task_still_answers(srv, recorder):
    _, key = new_account(srv)
    hook = recorder()
    done = _make(srv, key, callback_url=hook.url)[0]
    signed = done["images"][0]["url"]
    assert httpx.get(signed).status_code == 200
    wait_for(lambda: _rows(srv, callback_deliveries, callback_deliveries.c.task_id == done["id"]) == 1)
    _age(srv, [done["id"]], 8)  # the docs: generated links are valid 7 days

    report = _expire(srv)
    assert report.media_tasks >= 1 and report.objects >= 1 and report.tasks == 0
    assert asyncio.run(_storage(srv).keys_under(f"generated/{done['id']}/")) == []
    row = _task_row(srv, done["id"])
    assert row["outputs_expired_at"] is not None and row["lease_owner"] is None  # claimed, then released
    assert _rows(srv, callback_deliveries, callback_deliveries.c.task_id == done["id"]) == 1  # the task stays

    with srv.client(key) as c:
        got = c.get(f"{PATH}/{done['id']}")
        listed = c.get("/api/v1/tasks", params={"limit": 100}).json()["data"]
    assert got.status_code == 200
    body = got.json()
    # the documented shape: id, status, model, images[].url (a string), billing, usage; plus when the files went
    assert body["status"] == "completed" and body["model"] == "nano-banana"
    assert isinstance(body["images"], list) and len(body["images"]) == 1
    assert isinstance(body["images"][0]["url"], str) and _unsigned(body["images"][0]["url"])
    assert (
        body["billing"]["settlement"]["charged_amount_cents"] == done["billing"]["settlement"]["charged_amount_cents"]
    )
    assert body["outputs_expired_at"].endswith("Z") or "T" in body["outputs_expired_at"]
    (item,) = [t for t in listed if t["id"] == done["id"]]
    assert _unsigned(item["images"][0]["url"])
    # neither the link handed out before nor the unsigned one serves: 410 with the reason
    for url in (signed, body["images"][0]["url"]):
        gone = httpx.get(url)
        assert gone.status_code == 410, gone.text
        assert "expired" in gone.text
    # an expired task's files cannot be fetched by forging a path next to them either
    assert httpx.get(signed.replace("/0.png", "/1.png")).status_code in (403, 410)
    assert _expire(srv).media_tasks == 0  # idempotent: nothing left to do for it
    assert_no_orphans(srv)


def test_finished_tasks_go_with_everything_hanging_off_them(srv, recorder):
    account, key = new_account(srv)
    hook = recorder()
    done = _make(srv, key, n=2, callback_url=hook.url)
    ids = [d["id"] for d in done]
    wait_for(
        lambda: (
            _rows(
                srv,
                callback_deliveries,
                callback_deliveries.c.task_id.in_(ids),
                callback_deliveries.c.state == "delivered",
            )
            == 2
        )
    )
    ledger_before = _rows(srv, ledger, ledger.c.task_id.in_(ids))
    usage_before = _rows(srv, usage_events, usage_events.c.ref.in_(ids))
    assert ledger_before >= 4 and usage_before == 2
    _age(srv, ids, 31)

    report = _expire(srv)
    assert report.tasks >= 2 and report.callback_deliveries >= 2 and report.callback_attempts >= 2
    assert _rows(srv, tasks, tasks.c.id.in_(ids)) == 0
    assert _rows(srv, callback_deliveries, callback_deliveries.c.task_id.in_(ids)) == 0
    assert asyncio.run(_storage(srv).keys_under(f"generated/{ids[0]}/")) == []
    # the account's books and the usage log keep their rows (their own lifetimes)
    assert _rows(srv, ledger, ledger.c.task_id.in_(ids)) == ledger_before
    assert _rows(srv, usage_events, usage_events.c.ref.in_(ids)) == usage_before
    with srv.client(key) as c:
        assert c.get(f"{PATH}/{ids[0]}").status_code == 404
        assert c.get(f"/api/v1/tasks/{ids[0]}/callbacks").status_code == 404
        assert c.get("/api/v1/me/balance").json()["balance_cents"] == 10_000 - sum(
            d["billing"]["settlement"]["charged_amount_cents"] for d in done
        )
    assert httpx.get(done[0]["images"][0]["url"]).status_code == 404  # no task, no file: nothing to say "expired"
    assert_no_orphans(srv)
    assert account > 1


def test_unfinished_unsettled_and_still_calling_back_tasks_survive(srv, recorder):
    account, key = new_account(srv)
    hook = recorder()
    running, unsettled, reserved, calling, plain = (d["id"] for d in _make(srv, key, n=5, callback_url=hook.url))
    wait_for(
        lambda: (
            _rows(
                srv,
                callback_deliveries,
                callback_deliveries.c.task_id == calling,
                callback_deliveries.c.state == "delivered",
            )
            == 1
        )
    )

    async def tamper(db: Database):
        async with db.write() as conn:
            # (made so by hand: each is a state the job must never delete)
            # (next run far away: no worker picks it up)
            await conn.execute(
                update(tasks).where(tasks.c.id == running).values(state="running", next_run_at=time.time() + DAY)
            )
            await conn.execute(delete(ledger).where(ledger.c.task_id == unsettled, ledger.c.kind == "settle"))
            await conn.execute(
                insert(open_reservations).values(
                    request_id=reserved, account_id=account, cents=1, created_at=time.time()
                )
            )
            await conn.execute(
                update(callback_deliveries)
                .where(callback_deliveries.c.task_id == calling)
                .values(state="pending", next_attempt_at=time.time() + DAY)
            )

    srv.db_call(tamper)
    _age(srv, [running, unsettled, reserved, calling, plain], 31)
    _expire(srv)
    assert _rows(srv, tasks, tasks.c.id == plain) == 0
    for survivor in (running, unsettled, reserved, calling):
        assert _rows(srv, tasks, tasks.c.id == survivor) == 1, survivor
    assert _task_row(srv, running)["outputs_expired_at"] is None  # not finished: its files are not due either
    assert _task_row(srv, unsettled)["outputs_expired_at"] is not None  # finished: files go, the row stays

    async def untamper(db: Database):
        async with db.write() as conn:
            await conn.execute(update(tasks).where(tasks.c.id == running).values(state="completed"))
            await conn.execute(delete(open_reservations).where(open_reservations.c.request_id == reserved))
            await conn.execute(
                update(callback_deliveries).where(callback_deliveries.c.task_id == calling).values(state="delivered")
            )
            await conn.execute(
                insert(ledger).values(
                    account_id=account, task_id=unsettled, kind="settle", amount_cents=0, created_at=time.time()
                )
            )

    srv.db_call(untamper)
    _expire(srv)
    assert _rows(srv, tasks, tasks.c.id.in_([running, unsettled, reserved, calling])) == 0
    assert_no_orphans(srv)


def test_every_run_is_bounded_by_its_batch(srv):
    _, key = new_account(srv)
    ids = [d["id"] for d in _make(srv, key, n=3)]
    _age(srv, ids, 400)  # older than anything the other tests leave
    old = time.time() - 400 * DAY

    async def age_usage(db: Database):
        async with db.write() as conn:
            await conn.execute(update(usage_events).where(usage_events.c.ref.in_(ids)).values(created_at=old))

    srv.db_call(age_usage)
    for i in range(3):  # stored Responses API responses past their days
        srv.db_call(lambda db, i=i: stored_responses.put(db, f"resp_bounded{i}", 1, {}, [], retention_seconds=-1))
    small = Retention(batch=2)
    first = _expire(srv, small)
    assert (first.tasks, first.usage_rows, first.responses) == (2, 2, 2)
    assert first.media_tasks <= 2
    assert _rows(srv, tasks, tasks.c.id.in_(ids)) == 1
    second = _expire(srv, small)
    assert second.tasks >= 1 and _rows(srv, tasks, tasks.c.id.in_(ids)) == 0
    assert _rows(srv, usage_events, usage_events.c.ref.in_(ids)) == 0
    assert second.responses == 1
    assert_no_orphans(srv)


def test_zero_keeps_for_ever(srv):
    _, key = new_account(srv)
    (done,) = _make(srv, key)
    _age(srv, [done["id"]], 3000)
    report = _expire(srv, Retention(generated_media_days=0, task_days=0, usage_days=0))
    assert (report.media_tasks, report.tasks, report.usage_rows) == (0, 0, 0)
    assert httpx.get(done["images"][0]["url"]).status_code == 200  # still there, its link still valid
    assert _task_row(srv, done["id"])["outputs_expired_at"] is None
    _expire(srv)  # the defaults take it
    assert_no_orphans(srv)


def test_runs_at_once_share_the_work(srv):
    _, key = new_account(srv)
    ids = [d["id"] for d in _make(srv, key, n=4)]
    _age(srv, ids, 500)
    storage = _storage(srv)

    async def two_at_once(_db: Database):
        dbs = [Database(srv.settings.resolved_database_url, "NORMAL") for _ in range(2)]
        try:
            return await asyncio.gather(*(run_expiry(db, storage, Retention(batch=3)) for db in dbs))
        finally:
            for db in dbs:
                await db.dispose()

    reports = srv.db_call(two_at_once)
    assert all(r.tasks <= 3 for r in reports)  # each bounded; together they took all four (different rows)
    assert sum(r.tasks for r in reports) >= 4
    assert _rows(srv, tasks, tasks.c.id.in_(ids)) == 0
    assert_no_orphans(srv)


def test_admin_storage_and_expire_commands(srv, tmp_path):
    account, key = new_account(srv)
    done = _make(srv, key, n=2)
    sizes = sum((srv.settings.resolved_storage_dir / k).stat().st_size for d in done for k in _keys(srv, d["id"]))
    env = {"RUNAPI_DATABASE_URL": srv.settings.resolved_database_url, "RUNAPI_DATA_DIR": str(srv.settings.data_dir)}
    out = cli("admin", "storage", "--json", env=env)
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    (mine,) = [a for a in found["accounts"] if a["account_id"] == account]
    assert mine["kinds"]["generated"] == {"files": 2, "bytes": sizes}
    assert set(found["kinds"]) >= {"generated", "uploads", "openai_files", "upload_parts"}
    assert found["total"]["bytes"] >= sizes
    text = cli("admin", "storage", env=env)
    assert text.returncode == 0 and "generated" in text.stdout and str(sizes) in text.stdout

    _age(srv, [done[0]["id"]], 8)
    out = cli("admin", "expire", "--json", env=env)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["media_tasks"] >= 1 and set(report) >= {"files", "tasks", "usage_rows", "objects"}
    after = json.loads(cli("admin", "storage", "--json", env=env).stdout)
    (mine,) = [a for a in after["accounts"] if a["account_id"] == account]
    assert mine["kinds"]["generated"]["files"] == 1
    text = cli("admin", "expire", env=env)
    assert text.returncode == 0 and "generated media 7 days" in text.stdout
    bad = cli("admin", "expire", env={**env, "RUNAPI_RETENTION_BATCH": "0"})  # bounded: refused in one line
    assert bad.returncode == 1 and "RUNAPI_RETENTION_BATCH" in bad.stderr and "Traceback" not in bad.stderr


def _keys(srv, task_id: str) -> list[str]:
    return asyncio.run(_storage(srv).keys_under(f"generated/{task_id}/"))
