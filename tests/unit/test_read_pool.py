"""`Database.read_sync`, the one-hop read path, on a real SQLite file (and on PostgreSQL when the test services
are configured): it returns what the async `read()` path returns for the hot lookups (task status, API key,
guardrails, key spend), runs on the read-only pool threads, cannot write, and sees a commit made just before."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import Connection, Select, bindparam, insert, select, update
from sqlalchemy.exc import OperationalError

from runapi.auth import admin, tokens
from runapi.auth.principal import KEY_QUERY, Principal, authenticate
from runapi.billing.ledger import spent_query
from runapi.domain.task import NewTask
from runapi.policy import guardrail_store
from runapi.policy.guardrails import GUARDRAILS_QUERY, effective_guardrails
from runapi.settings import Settings
from runapi.store import Database
from runapi.store.schema import accounts, tasks
from runapi.tasks import engine
from tests.support.migrated_db import DB_FILE, copy_into, migrated_template
from tests.support.services import create_database, drop_database

T = TypeVar("T")


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrated_template(tmp_path_factory)


@pytest.fixture
def sqlite_url(tmp_path: Path, migrated: Path) -> str:
    copy_into(migrated, tmp_path)
    return Settings(data_dir=tmp_path).resolved_database_url


@pytest.fixture(params=["sqlite", "postgresql"])
def any_url(request: pytest.FixtureRequest, tmp_path: Path, migrated: Path) -> Iterator[str]:
    if request.param == "sqlite":
        shutil.copy(migrated, tmp_path / DB_FILE)
        yield Settings(data_dir=tmp_path).resolved_database_url
        return
    import os

    admin_url = os.environ.get("RUNAPI_SERVICES_PG_URL")
    if not admin_url:
        pytest.skip("RUNAPI_SERVICES_PG_URL is not set (source the test services' env)")
    url = create_database(admin_url)
    try:
        yield url
    finally:
        drop_database(url)


def run(url: str, scenario: Callable[[Database], Awaitable[T]]) -> T:
    async def go() -> T:
        db = Database(url)
        await db.create_schema()
        try:
            return await scenario(db)
        finally:
            await db.dispose()

    return asyncio.run(go())


async def seeded(db: Database) -> tuple[Principal, str, str]:
    """An account with a key, a task and guardrails on the key and on its member: (who, token, task id)."""
    _, key = await admin.create_account_with_key(db, "a", "a@example.com", 1000, "k")
    who = await authenticate(db, key.token)
    task, _ = await engine.create_task(
        db,
        NewTask(
            account_id=who.account_id,
            api_key_id=who.key_id,
            family="nano_banana",
            action="text_to_image",
            model="nano-banana",
            params={"prompt": "a cat", "n": [1, 2]},
            price_cents=10,
            provider="sandbox",
            public_base_url="http://test",
        ),
    )
    on_key = await guardrail_store.create_guardrail(db, who, {"name": "key", "allowed_models": ["m1", "m2"]})
    on_member = await guardrail_store.create_guardrail(
        db,
        who,
        {
            "name": "member",
            "model_budgets": [
                {
                    "models": ["m1"],
                    "match_mode": "include",
                    "credit_limit_cents": 5,
                    "credit_limit_reset_interval": None,
                }
            ],
        },
    )
    await guardrail_store.create_assignment(db, who, on_key.id, api_key_id=who.key_id)
    await guardrail_store.create_assignment(db, who, on_member.id, membership_id=who.membership_id)
    return who, key.token, task.id


async def all_paths(db: Database, stmt: Select[Any], **params: Any) -> list[list[dict[str, Any]]]:
    """`stmt`'s rows through the async engine, `read_sync` and (for the compiled-once constants) `read_rows`."""
    async with db.read() as conn:
        via_async = [dict(r) for r in (await conn.execute(stmt, params)).mappings().all()]
    via_sync = await db.read_sync(lambda conn: [dict(r) for r in conn.execute(stmt, params).mappings().all()])
    return [via_async, via_sync, await db.read_rows(stmt, **params)] if params else [via_async, via_sync]


def test_one_hop_reads_return_what_the_async_path_returns(any_url):
    async def scenario(db: Database) -> None:
        who, token, task_id = await seeded(db)
        for stmt, params in (
            (engine.TASK_QUERY, {"task_id": task_id, "account_id": who.account_id}),
            (KEY_QUERY, {"lookup": tokens.lookup_prefix(token)}),
            (GUARDRAILS_QUERY, {"key_id": who.key_id, "membership_id": who.membership_id}),
            (spent_query(who.account_id, None, api_key_id=who.key_id), {}),
        ):
            via_async, *one_hop = await all_paths(db, stmt, **params)
            assert via_async  # same rows, same decoded values (JSON, booleans, floats), same column names
            assert all(rows == via_async for rows in one_hop)
            for rows in one_hop:
                for got, want in zip(rows, via_async, strict=True):
                    assert [type(v) for v in got.values()] == [type(v) for v in want.values()]
        guardrail_rows = await all_paths(db, GUARDRAILS_QUERY, key_id=who.key_id, membership_id=who.membership_id)
        assert len(guardrail_rows[0]) == 2
        assert await db.read_rows(engine.TASK_QUERY, task_id=task_id, account_id=who.account_id + 1) == []
        # and the services built on it answer the same
        task = await engine.get_task(db, task_id, who.account_id)
        assert task is not None and task.params == {"prompt": "a cat", "n": [1, 2]}
        assert await engine.get_task(db, task_id, who.account_id + 1) is None  # another account's: not found
        assert await authenticate(db, token) == who
        rules = await effective_guardrails(db, who)
        assert [g["name"] for g in rules] == ["key", "member"]  # the key's first

    run(any_url, scenario)


def test_sqlite_reads_run_on_the_read_pool_threads(sqlite_url):
    async def scenario(db: Database) -> None:
        await seeded(db)
        names = await asyncio.gather(*(db.read_sync(lambda _c: threading.current_thread().name) for _ in range(20)))
        assert all(n.startswith("sqlite-reader") for n in names)

    run(sqlite_url, scenario)


def test_the_read_pool_cannot_write(sqlite_url):
    async def scenario(db: Database) -> None:
        who, _, task_id = await seeded(db)

        def write(conn: Connection) -> None:
            conn.execute(update(accounts).where(accounts.c.id == who.account_id).values(balance_cents=10**9))

        def insert_row(conn: Connection) -> None:
            conn.execute(insert(accounts).values(name="x", balance_cents=0, callback_secret="s", created_at=0.0))

        for bad in (write, insert_row):
            with pytest.raises(OperationalError, match="readonly"):
                await db.read_sync(bad)
        async with db.read() as conn:
            balance = await conn.execute(select(accounts.c.balance_cents).where(accounts.c.id == who.account_id))
            assert balance.scalar_one() == 990  # unchanged: 1000 less the task's reservation
        task = await engine.get_task(db, task_id, who.account_id)  # the pool still serves reads after the failures
        assert task is not None

    run(sqlite_url, scenario)


def test_reads_see_a_commit_made_just_before(sqlite_url):
    async def scenario(db: Database) -> None:
        who, _, task_id = await seeded(db)

        async def polls_seen() -> set[int]:  # from every reader thread at once (each has its own connection)
            seen = await asyncio.gather(
                *(
                    db.read_sync(lambda c: c.execute(select(tasks.c.polls).where(tasks.c.id == task_id)).scalar())
                    for _ in range(16)
                )
            )
            return set(seen)

        assert await polls_seen() == {0}
        for n in range(1, 11):
            stmt = update(tasks).where(tasks.c.id == task_id).values(polls=n)
            if n % 2:  # both write paths: the plain sqlite3 writer thread and the async engine
                await db.write_sync(lambda conn, s=stmt: conn.execute(s))
            else:
                async with db.write() as conn:
                    await conn.execute(stmt)
            assert await polls_seen() == {n}
            task = await engine.get_task(db, task_id, who.account_id)
            assert task is not None and task.polls == n

    run(sqlite_url, scenario)


def test_read_rows_keeps_the_values_written_into_a_statement(any_url):
    async def scenario(db: Database) -> None:
        who, _, task_id = await seeded(db)
        queued = select(tasks.c.id, tasks.c.params).where(
            tasks.c.state == "queued", tasks.c.account_id == bindparam("account_id")
        )
        assert await db.read_rows(queued, account_id=who.account_id) == [
            {"id": task_id, "params": {"prompt": "a cat", "n": [1, 2]}}
        ]
        done = select(tasks.c.id).where(tasks.c.state == "completed", tasks.c.account_id == bindparam("account_id"))
        assert await db.read_rows(done, account_id=who.account_id) == []

    run(any_url, scenario)
