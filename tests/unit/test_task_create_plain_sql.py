"""A task create on a SQLite file runs its reservation and insert as plain sqlite3 statements compiled once
(tasks/engine.py, billing/ledger.py `reserve`): they must leave exactly the rows the SQLAlchemy Core statements
leave (still the path on PostgreSQL), and an Idempotency-Key race lost on the unique index (sqlite3's own
IntegrityError there) must still answer with the winner's task."""

from __future__ import annotations

import asyncio
import itertools
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, select

from runapi.auth import admin
from runapi.billing import ledger as billing_ledger
from runapi.billing.limits import key_limits
from runapi.domain.task import NewTask
from runapi.errors import Forbidden, RunapiError
from runapi.settings import Settings
from runapi.store import Database
from runapi.store.schema import accounts, ledger, spend_counters, tasks
from runapi.tasks import engine
from tests.support.migrated_db import copy_into, migrated_template
from tests.support.services import create_database, drop_database

NOW = 1_765_000_000.25


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrated_template(tmp_path_factory)


def new(account: int, **over: Any) -> NewTask:
    fields: dict[str, Any] = {
        "account_id": account,
        "api_key_id": None,
        "family": "nano_banana",
        "action": "text_to_image",
        "model": "nano-banana",
        "params": {"prompt": "a cat", "n": 2, "callback_url": "https://example.com/cb"},
        "price_cents": 10,
        "provider": "sandbox",
        "public_base_url": "http://test",
        **over,
    }
    return NewTask(**fields)


async def creates(db: Database) -> list[Any]:
    """A sequence of creates: plain, under a key limit (the second refused), a guardrail's ids, an
    Idempotency-Key and its replay, one the balance cannot cover (402), a free one. Returns the outcomes."""
    account = (await admin.create_account(db, "a", "a@example.com", 45))["account_id"]
    limits = key_limits("k1", 10, None)
    outcomes: list[Any] = []
    for over in (
        {},
        {"limits": limits, "provider_job": {"barred": ["x"]}},
        {"limits": limits},
        {"guardrail_id": "g1", "member_guardrail_id": "g2", "client_request_id": "cr-1"},
        {"idempotency_key": "idem-1", "request_params": {"prompt": "a cat"}},
        {"idempotency_key": "idem-1", "request_params": {"prompt": "a cat"}},
        {"price_cents": 10**6},
        {"price_cents": 0, "model": None},
    ):
        try:
            task, created = await engine.create_task(db, new(account, **over))
            outcomes.append((task.id, created, task.spend_counters))
        except RunapiError as exc:
            outcomes.append(type(exc).__name__)
    return outcomes


async def dump(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    async with db.read() as conn:
        for table in (tasks, ledger, spend_counters):
            rows = await conn.execute(select(table).order_by(*table.primary_key.columns))
            out[table.name] = [tuple(r) for r in rows.all()]
        balances = await conn.execute(select(accounts.c.id, accounts.c.balance_cents).order_by(accounts.c.id))
        out["balances"] = [tuple(r) for r in balances.all()]
    return out


def run_creates(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[Any], dict[str, Any]]:
    ids = itertools.count()
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=next(ids)))
    monkeypatch.setattr(engine.time, "time", lambda: NOW)

    async def go() -> tuple[list[Any], dict[str, Any]]:
        db = Database(Settings(data_dir=data_dir).resolved_database_url)
        try:
            return await creates(db), await dump(db)
        finally:
            await db.dispose()

    return asyncio.run(go())


def test_plain_sqlite_creates_leave_the_rows_the_core_statements_leave(tmp_path, migrated, monkeypatch):
    plain_dir, core_dir = tmp_path / "plain", tmp_path / "core"
    plain_dir.mkdir(), core_dir.mkdir()
    copy_into(migrated, plain_dir), copy_into(migrated, core_dir)
    executed: list[str] = []
    real_execute = Connection.execute

    def recording(self: Connection, statement: Any, *args: Any, **kwargs: Any) -> Any:
        executed.append(str(statement).split("(")[0].strip())
        return real_execute(self, statement, *args, **kwargs)

    monkeypatch.setattr(Connection, "execute", recording)
    plain = run_creates(plain_dir, monkeypatch)
    # the reservations and the inserts did not go through SQLAlchemy (only the account's credit did)
    assert [s for s in executed if s.startswith(("INSERT INTO tasks", "INSERT INTO ledger", "UPDATE accounts"))] == [
        "UPDATE accounts SET balance_cents=",
        "INSERT INTO ledger",
    ]
    with monkeypatch.context() as m:  # the Core statements, as on PostgreSQL
        m.setattr(engine, "plain_sqlite", lambda conn: None)
        m.setattr(billing_ledger, "plain_sqlite", lambda conn: None)
        core = run_creates(core_dir, monkeypatch)
    assert plain[0] == core[0]
    assert plain[0][2] == "Forbidden" and plain[0][6] == "InsufficientCredits"
    assert plain[0][5][:2] == (plain[0][4][0], False)  # the replay
    assert plain[1] == core[1]
    assert plain[1]["balances"] == [(plain[1]["balances"][0][0], 5)]
    assert len(plain[1]["tasks"]) == 5 and len(plain[1]["ledger"]) == 6  # the account's credit row + 5 reserves


def test_an_idempotency_race_lost_on_the_unique_index_answers_with_the_winner(tmp_path, migrated, monkeypatch):
    copy_into(migrated, tmp_path)

    async def go() -> None:
        db = Database(Settings(data_dir=tmp_path).resolved_database_url)
        try:
            account = (await admin.create_account(db, "a", "a@example.com", 100))["account_id"]
            winner, created = await engine.create_task(db, new(account, idempotency_key="race"))
            assert created
            real = engine.find_replay
            calls = 0

            async def late(*args: Any) -> Any:  # the loser looked before the winner committed
                nonlocal calls
                calls += 1
                return None if calls == 1 else await real(*args)

            monkeypatch.setattr(engine, "find_replay", late)
            loser, created = await engine.create_task(db, new(account, idempotency_key="race"))
            assert (loser.id, created, calls) == (winner.id, False, 2)
            with pytest.raises(Forbidden):  # a refusal inside the transaction is still the domain error
                await engine.create_task(db, new(account, limits=key_limits("k9", 1, None), price_cents=5))
                await engine.create_task(db, new(account, limits=key_limits("k9", 1, None), price_cents=5))
        finally:
            await db.dispose()

    asyncio.run(go())


def test_the_same_creates_on_postgresql_give_the_same_outcomes(tmp_path, migrated, monkeypatch):
    """PostgreSQL keeps the Core statements (and its row lock): the same sequence answers alike."""
    admin_url = os.environ.get("RUNAPI_SERVICES_PG_URL")
    if not admin_url:
        pytest.skip("RUNAPI_SERVICES_PG_URL is not set (source the test services' env)")
    copy_into(migrated, tmp_path)
    sqlite_outcomes, sqlite_rows = run_creates(tmp_path, monkeypatch)
    url = create_database(admin_url)
    ids = itertools.count()
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=next(ids)))
    try:

        async def go() -> tuple[list[Any], dict[str, Any]]:
            db = Database(url)
            try:
                await db.create_schema()
                return await creates(db), await dump(db)
            finally:
                await db.dispose()

        pg_outcomes, pg_rows = asyncio.run(go())
    finally:
        drop_database(url)
    assert pg_outcomes == sqlite_outcomes
    for name in ("tasks", "ledger", "spend_counters"):  # (the account ids and row ids may differ)
        assert [r[1:] for r in pg_rows[name]] == [r[1:] for r in sqlite_rows[name]], name
