"""`Database.write_sync` on a SQLite file queues its functions for the writer thread, which runs every one
waiting per thread hop (store/db.py `_drain`) in one transaction, a savepoint each (group commit: one COMMIT
per batch), in the order they were asked for; one that fails rolls back alone and its caller gets its error;
nobody hears of success before the COMMIT, and a COMMIT that fails fails every caller of the batch."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, event, insert, select

from runapi.auth import admin
from runapi.errors import InsufficientCredits
from runapi.settings import Settings
from runapi.store import Database
from runapi.store import db as db_module
from runapi.store.schema import accounts
from tests.support.migrated_db import copy_into, migrated_template


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrated_template(tmp_path_factory)


def test_waiting_transactions_run_in_one_hop_each_on_its_own(tmp_path, migrated, monkeypatch):
    copy_into(migrated, tmp_path)
    batches: list[int] = []
    real = db_module._in_transactions

    def counting(engine: Any, batch: list[Any]) -> Any:
        batches.append(len(batch))
        return real(engine, batch)

    monkeypatch.setattr(db_module, "_in_transactions", counting)
    release = threading.Event()

    def blocking(conn: Connection) -> str:
        release.wait(10)  # holds the writer thread while the others queue up
        return "first"

    def add(conn: Connection, name: str) -> str:
        conn.execute(insert(accounts).values(name=name, callback_secret="s", created_at=0.0))
        if name.startswith("bad"):
            raise InsufficientCredits()  # after its insert: the insert must roll back with it
        return name

    async def go() -> None:
        db = Database(Settings(data_dir=tmp_path).resolved_database_url)
        try:
            await admin.create_account(db, "a", "a@example.com", 0)  # (the writer thread exists)
            batches.clear()
            commits: list[int] = []
            event.listen(db._sqlite_writer()[0], "commit", lambda conn: commits.append(1))
            first = asyncio.ensure_future(db.write_sync(blocking))
            await asyncio.sleep(0.05)
            rest = [asyncio.ensure_future(db.write_sync(add, n)) for n in ("n1", "bad1", "n2", "n3")]
            await asyncio.sleep(0.05)
            release.set()
            outcomes = await asyncio.gather(first, *rest, return_exceptions=True)
            assert outcomes[0] == "first" and outcomes[1:3] == ["n1", outcomes[2]]
            assert isinstance(outcomes[2], InsufficientCredits) and outcomes[3:] == ["n2", "n3"]
            assert batches == [1, 4]  # the four that waited ran in one hop
            assert len(commits) == 2  # and one COMMIT
            async with db.read() as conn:
                names = (await conn.execute(select(accounts.c.name).order_by(accounts.c.id))).scalars().all()
            assert names == ["a", "n1", "n2", "n3"]  # in order; the failed one left nothing
        finally:
            await db.dispose()

    asyncio.run(go())


def test_a_transaction_whose_caller_gave_up_while_it_waited_does_not_run(tmp_path, migrated):
    copy_into(migrated, tmp_path)
    release = threading.Event()
    ran: list[str] = []

    def blocking(conn: Connection) -> None:
        release.wait(10)

    def note(conn: Connection, name: str) -> str:
        ran.append(name)
        return name

    async def go() -> None:
        db = Database(Settings(data_dir=tmp_path).resolved_database_url)
        try:
            first = asyncio.ensure_future(db.write_sync(blocking))
            await asyncio.sleep(0.05)
            dropped = asyncio.ensure_future(db.write_sync(note, "dropped"))
            kept = asyncio.ensure_future(db.write_sync(note, "kept"))
            await asyncio.sleep(0.05)
            dropped.cancel()
            release.set()
            assert await kept == "kept"
            await first
            assert dropped.cancelled() and ran == ["kept"]
        finally:
            await db.dispose()

    asyncio.run(go())


def test_a_batch_whose_transaction_is_lost_fails_every_caller(tmp_path, migrated):
    copy_into(migrated, tmp_path)
    release = threading.Event()

    def blocking(conn: Connection) -> None:
        release.wait(10)

    def add(conn: Connection, name: str) -> str:
        conn.execute(insert(accounts).values(name=name, callback_secret="s", created_at=0.0))
        return name

    def saboteur(conn: Connection) -> None:
        conn.connection.dbapi_connection.execute("ROLLBACK")  # type: ignore[union-attr]  (the whole batch)

    async def go() -> None:
        db = Database(Settings(data_dir=tmp_path).resolved_database_url)
        try:
            first = asyncio.ensure_future(db.write_sync(blocking))
            await asyncio.sleep(0.05)
            rest = [
                asyncio.ensure_future(db.write_sync(add, "lost")),
                asyncio.ensure_future(db.write_sync(saboteur)),
                asyncio.ensure_future(db.write_sync(add, "also-lost")),
            ]
            await asyncio.sleep(0.05)
            release.set()
            await first
            outcomes = await asyncio.gather(*rest, return_exceptions=True)
            assert all(isinstance(o, Exception) for o in outcomes), outcomes
            async with db.read() as conn:
                names = (await conn.execute(select(accounts.c.name))).scalars().all()
            assert not {"lost", "also-lost"} & set(names)
            assert await db.write_sync(add, "after") == "after"  # the writer goes on
        finally:
            await db.dispose()

    asyncio.run(go())


def test_a_lone_transaction_needs_no_savepoint_and_still_rolls_back_alone(tmp_path, migrated):
    """The common case at low load (and the LLM ledger's batches, already grouped): one function per hop runs
    in a plain transaction; its failure still leaves nothing behind and the next one commits."""
    copy_into(migrated, tmp_path)

    def add(conn: Connection, name: str) -> str:
        conn.execute(insert(accounts).values(name=name, callback_secret="s", created_at=0.0))
        if name.startswith("bad"):
            raise InsufficientCredits()
        return name

    async def go() -> None:
        db = Database(Settings(data_dir=tmp_path).resolved_database_url)
        try:
            await admin.create_account(db, "a", "a@example.com", 0)
            savepoints: list[str] = []
            event.listen(db._sqlite_writer()[0], "savepoint", lambda conn, name: savepoints.append(name))
            with pytest.raises(InsufficientCredits):
                await db.write_sync(add, "bad-alone")
            assert await db.write_sync(add, "good-alone") == "good-alone"
            assert savepoints == []
            async with db.read() as conn:
                names = (await conn.execute(select(accounts.c.name).order_by(accounts.c.id))).scalars().all()
            assert names == ["a", "good-alone"]
        finally:
            await db.dispose()

    asyncio.run(go())
