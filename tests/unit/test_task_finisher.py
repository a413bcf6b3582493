"""Group commit of the worker's finishes (tasks/finisher.py) on a real database (SQLite, or PostgreSQL when
RUNAPI_TEST_DATABASE_URL is set): concurrent finishes share one transaction, each still gets its own outcome,
and a finish that fails is isolated: the others commit, it alone fails (its task stays leased, unsettled)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy import select

from runapi.auth import admin
from runapi.billing import usage
from runapi.domain.task import NewTask
from runapi.storage import UrlSigner
from runapi.store import Database
from runapi.store.schema import ledger, tasks
from runapi.tasks import engine
from runapi.tasks.finisher import finisher
from tests.support.services import create_database, env_database_url

SIGNER = UrlSigner(b"k" * 32)


async def _world(tmp_path: Any, n: int) -> tuple[Database, list[Any]]:
    """A database with `n` tasks of one account, all claimed by "w"."""
    url = create_database(env_database_url()) if env_database_url() else f"sqlite+aiosqlite:///{tmp_path / 'f.db'}"
    db = Database(url, "NORMAL")
    await db.create_schema()
    account = (await admin.create_account(db, "a", f"{uuid.uuid4().hex}@x.test", credits_cents=1000))["account_id"]
    for i in range(n):
        await engine.create_task(
            db,
            NewTask(
                account_id=account,
                api_key_id=None,
                family="suno",
                action="generate_lyrics",
                model=None,
                params={"prompt": f"p{i}"},
                price_cents=1,
                provider="sandbox",
                public_base_url="http://test",
            ),
        )
    claimed = await engine.claim_due(db, "w", n, 30.0)
    assert len(claimed) == n
    return db, sorted(claimed, key=lambda t: t.id)


async def _finish(db: Database, task: Any) -> bool:
    return await engine.finish(db, task, "w", result={"files": {}, "extra": {}}, signer=SIGNER, url_ttl=60)


async def _states(db: Database) -> dict[str, str]:
    async with db.read() as conn:
        return {r.id: r.state for r in await conn.execute(select(tasks.c.id, tasks.c.state))}


async def _settled(db: Database) -> set[str]:
    async with db.read() as conn:
        rows = await conn.execute(select(ledger.c.task_id).where(ledger.c.kind == "settle"))
        return {r.task_id for r in rows}


def test_concurrent_finishes_share_one_commit(tmp_path):
    async def go():
        db, claimed = await _world(tmp_path, 3)
        try:
            assert await asyncio.gather(*(_finish(db, t) for t in claimed)) == [True, True, True]
            assert finisher(db).stats == {"finishes": 3, "commits": 1}
            assert set((await _states(db)).values()) == {"completed"}
            assert await _settled(db) == {t.id for t in claimed}
            # a second finish of a finished task changes nothing: the lease condition no longer holds
            assert await _finish(db, claimed[0]) is False
        finally:
            await db.dispose()

    asyncio.run(go())


def test_a_failing_finish_is_isolated_and_the_others_commit(tmp_path, monkeypatch):
    async def go():
        db, claimed = await _world(tmp_path, 3)
        bad = claimed[1].id
        real = usage.record_task

        def record_task(conn, **kw):
            if kw["task_id"] == bad:
                raise RuntimeError("cannot record this one")
            return real(conn, **kw)

        monkeypatch.setattr(usage, "record_task", record_task)
        writes: list[int] = []
        real_write = Database.write_sync

        async def counting(self, fn, *args):
            writes.append(len(args[0]) if fn.__name__ == "_close_all" else 0)
            return await real_write(self, fn, *args)

        monkeypatch.setattr(Database, "write_sync", counting)
        try:
            outcomes = await asyncio.gather(*(_finish(db, t) for t in claimed), return_exceptions=True)
            assert outcomes[0] is True and outcomes[2] is True
            assert isinstance(outcomes[1], RuntimeError)
            assert writes == [3, 1, 1, 1]  # the batch, then each finish alone
            states = await _states(db)
            assert states[claimed[0].id] == states[claimed[2].id] == "completed"
            assert states[bad] == "running"  # still leased: run again once the lease expires
            assert await _settled(db) == {claimed[0].id, claimed[2].id}
            assert finisher(db).stats == {"finishes": 2, "commits": 2}
        finally:
            await db.dispose()

    asyncio.run(go())
