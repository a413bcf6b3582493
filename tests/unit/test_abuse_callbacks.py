"""Callback delivery's bookkeeping without a server (issue 11): an attempt cut short still counts against the
cap, and claims take accounts in turn within their share. Dripping receivers and slow clients are in
tests/e2e/test_abuse_callbacks.py."""

from __future__ import annotations

import asyncio
import time
import uuid
from types import SimpleNamespace

from sqlalchemy import insert, select, update

from runapi.auth import admin
from runapi.callbacks.delivery import CallbackDispatcher
from runapi.store import Database
from runapi.store.schema import callback_attempts, callback_deliveries
from tests.support import servers


def run_db(tmp_path, go):
    """`go(db, settings)` on a fresh database of its own (PostgreSQL when the suite runs on it)."""
    settings = servers.test_settings(tmp_path, callback_retry_delays=(0.05,) * 2)

    async def main():
        db = Database(settings.resolved_database_url, "NORMAL")
        try:
            await db.create_schema()
            return await go(db, settings)
        finally:
            await db.dispose()

    return asyncio.run(main())


async def pending_deliveries(db, account_id: int, n: int, due_at: float) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(n)]
    async with db.write() as conn:
        await conn.execute(
            insert(callback_deliveries),
            [
                {
                    "id": i,
                    "task_id": str(uuid.uuid4()),
                    "account_id": account_id,
                    "url": "http://127.0.0.1:9/",
                    "body": "{}",
                    "state": "pending",
                    "attempts": 0,
                    "next_attempt_at": due_at + k * 1e-3,
                    "created_at": due_at,
                }
                for k, i in enumerate(ids)
            ],
        )
    return ids


def test_an_attempt_cut_short_still_counts_and_the_cap_holds(tmp_path):
    async def go(db, settings):
        account = (await admin.create_account(db, "A", "a@example.com"))["account_id"]
        [delivery_id] = await pending_deliveries(db, account, 1, time.time() - 1)
        seen = []
        for _ in range(4):  # a sender that claims and dies, again and again: 1 try + 2 retries, then given up
            rt = SimpleNamespace(settings=settings, db=db)
            seen.append([d["attempts"] for d in await CallbackDispatcher(rt, None).claim_due(16)])
            async with db.write() as conn:  # its lease runs out
                await conn.execute(update(callback_deliveries).values(lease_until=time.time() - 1))
        async with db.read() as conn:
            d = (await conn.execute(select(callback_deliveries))).mappings().one()
            rows = (
                await conn.execute(
                    select(callback_attempts.c.attempt, callback_attempts.c.error)
                    .where(callback_attempts.c.delivery_id == delivery_id)
                    .order_by(callback_attempts.c.attempt)
                )
            ).all()
        return seen, d, rows

    seen, d, rows = run_db(tmp_path, go)
    assert seen == [[1], [2], [3], []]
    assert d["state"] == "failed" and d["attempts"] == 3
    assert [r.attempt for r in rows] == [1, 2, 3] and all(r.error.startswith("interrupted") for r in rows)


def test_claims_take_accounts_in_turn_within_their_share(tmp_path):
    async def go(db, settings):
        a = (await admin.create_account(db, "A", "a@example.com"))["account_id"]
        b = (await admin.create_account(db, "B", "b@example.com"))["account_id"]
        now = time.time()
        await pending_deliveries(db, a, 30, now - 10)  # A's backlog is older than B's one
        await pending_deliveries(db, b, 1, now - 1)
        dispatcher = CallbackDispatcher(SimpleNamespace(settings=settings, db=db), None)
        first = [d["account_id"] for d in await dispatcher.claim_due(16)]
        for account in first:
            dispatcher.busy[account] += 1
        second = [d["account_id"] for d in await dispatcher.claim_due(16)]  # A is at its share
        return a, b, first, second

    a, b, first, second = run_db(tmp_path, go)
    assert sorted(first) == sorted([a] * 4 + [b])  # B's one is not behind A's backlog; A gets its share only
    assert second == []  # A's 26 others wait for A's slots
