"""The store on PostgreSQL: migrations applied by many processes at once, money exact under concurrency
(FOR UPDATE on the sub-cent carry; the conditional reserve is tested on every backend by
test_concurrency_billing), a lost database reported as unavailable, and text PostgreSQL cannot hold."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, text

from runapi.api.errors import as_api_error
from runapi.auth import admin
from runapi.billing.batcher import LedgerBatcher
from runapi.store import Database, DatabaseUnavailable
from runapi.store.schema import accounts
from tests.support.servers import free_port
from tests.support.services import create_database


def run(coro_fn, url: str):
    async def go():
        db = Database(url)
        try:
            return await coro_fn(db)
        finally:
            await db.dispose()

    return asyncio.run(go())


def test_migrations_from_many_processes_at_once(services):
    url = create_database(services.database_url)

    async def go():
        dbs = [Database(url) for _ in range(6)]
        try:
            await asyncio.gather(*(db.create_schema() for db in dbs))  # the advisory lock makes them take turns
            await dbs[0].create_schema()  # and again: nothing to do
            async with dbs[0].read() as conn:
                versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
                n_tables = (
                    await conn.execute(
                        text("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")
                    )
                ).scalar()
            return versions, n_tables
        finally:
            for db in dbs:
                await db.dispose()

    versions, n_tables = asyncio.run(go())
    assert len(versions) == 1 and n_tables > 5


def test_concurrent_metered_settlements_carry_every_micro_cent(services):
    """Three ledger batchers (as in three processes) settle metered requests on one account at once: the
    sub-cent carry is read FOR UPDATE, so not a micro-cent is lost or counted twice."""
    url = create_database(services.database_url)

    async def go(db):
        await db.create_schema()
        account_id = (await admin.create_account(db, "carry", "carry@example.com", 1000))["account_id"]
        batchers = [LedgerBatcher(Database(url)) for _ in range(3)]

        async def one(i: int) -> int:
            batcher = batchers[i % 3]
            await batcher.reserve(account_id, None, f"req-{i}", 1, model=None, guardrail_id=None)
            return await batcher.settle(account_id, None, f"req-{i}", 1, 333_333)

        try:
            charged = await asyncio.gather(*(one(i) for i in range(60)))
        finally:
            for b in batchers:
                await b.close()
                await b.db.dispose()
        async with db.read() as conn:
            balance, carry = (
                await conn.execute(
                    select(accounts.c.balance_cents, accounts.c.carry_micro_cents).where(accounts.c.id == account_id)
                )
            ).one()
        return sum(charged), balance, carry

    total_charged, balance, carry = run(go, url)
    assert total_charged * 1_000_000 + carry == 60 * 333_333
    assert balance == 1000 - total_charged


def test_an_unreachable_database_is_unavailable_not_an_error():
    async def go(db):
        async with db.read() as conn:
            await conn.execute(text("SELECT 1"))

    with pytest.raises(DatabaseUnavailable) as caught:
        run(go, f"postgresql+asyncpg://runapi@127.0.0.1:{free_port()}/postgres")
    refusal = as_api_error(caught.value)
    assert (refusal.status, refusal.headers) == (503, {"Retry-After": "1"})


@pytest.mark.parametrize("db_backend", ["postgresql"], indirect=True)
def test_nul_characters_are_a_client_error_not_a_crash(db_server):
    """PostgreSQL text cannot hold NUL (SQLite can): such input is refused with 422, never a 500."""
    with db_server.client() as c:
        assert c.get("/api/v1/nano_banana/text_to_image/abc%00def").status_code in (404, 422)
        r = c.post("/api/v1/suno/generate_lyrics", json={"prompt": "nul \x00 inside"})  # JSON escapes it: fine
        assert r.status_code == 202, r.text
        r = c.post(
            "/api/v1/grok_imagine/image_to_video",
            json={"model": "grok-imagine-image-to-video", "source_task_id": "x\x00y", "prompt": "go"},
        )
        assert r.status_code in (404, 422), r.text  # a task reference looked up in the database
