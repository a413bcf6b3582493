"""The LLM ledger's group commit: moves from many concurrent requests commit together, yet each keeps its own
outcome (402s, exact sub-cent carries, finish-once), a bad move fails alone, and nothing is lost when a caller
goes away or a process dies mid-call. Runs on a real database (SQLite, or PostgreSQL when configured)."""

import asyncio
import uuid

import pytest
from sqlalchemy import func, select

from runapi.api.errors import http_status
from runapi.auth import admin
from runapi.billing.batcher import LedgerBatcher, refund_abandoned
from runapi.errors import RunapiError
from runapi.store import Database
from runapi.store.schema import accounts, ledger, open_reservations
from tests.support.services import create_database, env_database_url


@pytest.fixture
def run(tmp_path):
    """Runs a coroutine `fn(db, batcher, account_id)` against a fresh database and account."""

    def go(fn, credits=1_000):
        async def main():
            url = (
                create_database(env_database_url())
                if env_database_url()
                else f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}"
            )
            db = Database(url, "NORMAL")
            await db.create_schema()
            account = await admin.create_account(db, "acme", f"{uuid.uuid4().hex}@x.test", credits_cents=credits)
            batcher = LedgerBatcher(db)
            try:
                return await fn(db, batcher, account["account_id"])
            finally:
                await batcher.close()
                await db.dispose()

        return asyncio.run(main())

    return go


async def books(db, account_id):
    """(balance, sum of ledger rows, open reservations)."""
    async with db.read() as conn:
        balance = (await conn.execute(select(accounts.c.balance_cents).where(accounts.c.id == account_id))).scalar_one()
        total = (
            await conn.execute(select(func.sum(ledger.c.amount_cents)).where(ledger.c.account_id == account_id))
        ).scalar_one()
        still_open = (await conn.execute(select(func.count()).select_from(open_reservations))).scalar_one()
    return int(balance), int(total), int(still_open)


def rid():
    return f"llm_{uuid.uuid4().hex}"


def test_concurrent_reserves_share_commits_and_never_overspend(run):
    async def scenario(db, batcher, account_id):
        results = await asyncio.gather(
            *(batcher.reserve(account_id, None, rid(), 30, "m", None) for _ in range(100)), return_exceptions=True
        )
        return results, await books(db, account_id), batcher.stats

    results, (balance, total, still_open), stats = run(scenario)
    refused = [r for r in results if isinstance(r, RunapiError)]
    assert len(refused) == 100 - 33 and all(http_status(r) == 402 for r in refused)
    assert balance == total == 1_000 - 33 * 30 and still_open == 33
    assert stats["moves"] == 100 and stats["commits"] < 100  # grouped


def test_settle_charges_exact_usage_with_sub_cent_carry_across_one_batch(run):
    async def scenario(db, batcher, account_id):
        ids = [rid() for _ in range(3)]
        await asyncio.gather(*(batcher.reserve(account_id, "key", i, 5, "m", None) for i in ids))
        charged = await asyncio.gather(*(batcher.settle(account_id, "key", i, 5, 400_000) for i in ids))
        return charged, await books(db, account_id)

    charged, (balance, total, still_open) = run(scenario)
    assert sorted(charged) == [0, 0, 1]  # 1.2 cents in all: one whole cent, 0.2 carried
    assert balance == total == 999 and still_open == 0


def test_a_request_is_finished_once_whatever_races(run):
    async def scenario(db, batcher, account_id):
        r = rid()
        await batcher.reserve(account_id, None, r, 40, "m", None)
        both = await asyncio.gather(
            batcher.settle(account_id, None, r, 40, 10_000_000), batcher.refund(account_id, None, r, 40)
        )
        again = await batcher.refund(account_id, None, r, 40)
        return both, again, await books(db, account_id)

    (charged, refunded), again, (balance, total, still_open) = run(scenario)
    assert charged == 10 and refunded is False and again is False  # the first to close it wins
    assert balance == total == 990 and still_open == 0


def test_a_bad_move_fails_alone(run):
    async def scenario(db, batcher, account_id):
        good = [batcher.reserve(account_id, None, rid(), 1, "m", None) for _ in range(5)]
        bad = batcher.reserve(account_id, None, "x" * 300, 1, "m", None)  # longer than the column allows
        dup = rid()
        await batcher.reserve(account_id, None, dup, 1, "m", None)
        twice = batcher.reserve(account_id, None, dup, 1, "m", None)  # the same request reserved again
        results = await asyncio.gather(*good, bad, twice, return_exceptions=True)
        return results, await books(db, account_id)

    results, (balance, total, still_open) = run(scenario)
    assert results[:5] == [None] * 5
    # SQLite does not enforce VARCHAR lengths; PostgreSQL does. The duplicate fails on every database.
    assert isinstance(results[6], Exception) and not isinstance(results[6], RunapiError)
    reserved = 1 + 5 + (results[5] is None)
    assert balance == total == 1_000 - reserved and still_open == reserved


def test_a_caller_that_goes_away_gets_its_reservation_back(run):
    async def scenario(db, batcher, account_id):
        r = rid()
        task = asyncio.create_task(batcher.reserve(account_id, None, r, 70, "m", None))
        await asyncio.sleep(0)  # queued, not yet committed
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await batcher.close()
        return await books(db, account_id)

    balance, total, still_open = run(scenario)
    assert balance == total == 1_000 and still_open == 0


def test_the_janitor_refunds_what_a_dead_process_left_open_and_a_late_settle_is_ignored(run):
    async def scenario(db, batcher, account_id):
        r = rid()
        await batcher.reserve(account_id, None, r, 25, "m", None)
        assert await refund_abandoned(db, batcher, older_than=3600) == 0  # still young: left alone
        await asyncio.sleep(0.01)
        assert await refund_abandoned(db, batcher, older_than=0) == 1
        late = await batcher.settle(account_id, None, r, 25, 5_000_000)
        return late, await books(db, account_id)

    late, (balance, total, still_open) = run(scenario)
    assert late is None and balance == total == 1_000 and still_open == 0
