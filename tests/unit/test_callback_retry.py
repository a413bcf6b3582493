"""When a failed callback is tried again (callbacks/retry.py), and what the dispatcher records for a 410 Gone and
a Retry-After, without a server: the receiver is an httpx.MockTransport and the database a fresh one. Over HTTP
with a real receiver: tests/e2e/test_callback_standard.py."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from types import SimpleNamespace

import httpx
import pytest
from sqlalchemy import select

from runapi.auth import admin
from runapi.callbacks import retry
from runapi.callbacks.delivery import CallbackDispatcher
from runapi.settings import DEFAULT_CALLBACK_DELAYS, Settings
from runapi.store import Database
from runapi.store.schema import callback_attempts, callback_deliveries
from tests.support import servers
from tests.unit.test_abuse_callbacks import pending_deliveries


@pytest.mark.parametrize("jitter", [0.0, 0.1, 0.2, 1.0])
def test_jitter_stays_within_its_bounds_around_the_schedule(jitter):
    for base in DEFAULT_CALLBACK_DELAYS:
        low = retry.jittered(base, jitter, lambda: 0.0)
        high = retry.jittered(base, jitter, lambda: 1.0 - 1e-12)
        assert low == pytest.approx(base * (1 - jitter))
        assert high == pytest.approx(base * (1 + jitter))
        assert retry.jittered(base, jitter, lambda: 0.5) == pytest.approx(base)
        for r in (0.0, 0.13, 0.5, 0.77, 0.999):
            assert base * (1 - jitter) - 1e-9 <= retry.jittered(base, jitter, lambda r=r: r) <= base * (1 + jitter)


def test_jitter_spreads_a_herd():
    import random

    source = random.Random(7)
    delays = {round(retry.jittered(60, 0.2, source.random), 3) for _ in range(100)}
    assert len(delays) > 90 and min(delays) >= 48 and max(delays) <= 72


def test_the_default_jitter_is_within_ten_to_twenty_percent():
    assert 0.1 <= Settings.model_fields["callback_retry_jitter"].default <= 0.2


def test_retry_after_in_seconds_or_as_a_date():
    now = 1_700_000_000.0
    assert retry.retry_after_seconds("120", now) == 120
    assert retry.retry_after_seconds(" 0 ", now) == 0
    date = format_datetime(datetime.fromtimestamp(now + 90, UTC), usegmt=True)
    assert retry.retry_after_seconds(date, now) == pytest.approx(90)
    past = format_datetime(datetime.fromtimestamp(now - 90, UTC), usegmt=True)
    assert retry.retry_after_seconds(past, now) == 0
    assert retry.retry_after_seconds("9" * 1000, now) == 1e12  # bounded, not a thousand-digit int
    for bad in (None, "", "-5", "1.5", "soon", "١٢", "Wed, 99 Foo 2015 07:28:00 GMT"):
        assert retry.retry_after_seconds(bad, now) is None


def test_next_delay_honours_retry_after_on_429_and_503_only_and_within_the_cap():
    half = lambda: 0.5  # noqa: E731  (no jitter offset)
    assert retry.next_delay(5, 0.2, half, 503, "120", 3600, now=0) == (120, 120)
    assert retry.next_delay(5, 0.2, half, 429, "120", 3600, now=0) == (120, 120)
    assert retry.next_delay(5, 0.2, half, 500, "120", 3600, now=0) == (5, None)  # not a status that asks
    assert retry.next_delay(600, 0.2, half, 503, "120", 3600, now=0) == (600, 120)  # never shorter than ours
    assert retry.next_delay(5, 0.2, half, 503, "999999", 3600, now=0) == (3600, 3600)  # capped
    assert retry.next_delay(5, 0.2, half, 503, "later", 3600, now=0) == (5, None)
    assert retry.next_delay(5, 0.2, half, None, None, 3600, now=0) == (5, None)  # a timeout


def answer(status: int, headers: dict[str, str] | None = None):
    """A MockTransport handler answering `status` with an unread body stream (as a live receiver's is)."""
    return lambda request: httpx.Response(status, headers=headers, stream=httpx.ByteStream(b"ok"))


def run_delivery(tmp_path, handler, attempts_before: int = 0, **overrides):
    """One claimed delivery sent to a MockTransport answering `handler`, with no jitter offset; returns the
    delivery row, its attempts and when the attempt was made."""
    settings = servers.test_settings(tmp_path, **overrides)

    async def main():
        db = Database(settings.resolved_database_url, "NORMAL")
        try:
            await db.create_schema()
            account = (await admin.create_account(db, "A", "a@example.com"))["account_id"]
            [delivery_id] = await pending_deliveries(db, account, 1, time.time() - 1)
            rt = SimpleNamespace(settings=settings, db=db)
            async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
                dispatcher = CallbackDispatcher(rt, http, rand=lambda: 0.5)
                [claimed] = await dispatcher.claim_due(1)
                sent_at = time.time()
                await dispatcher.deliver(claimed)
                again = await dispatcher.claim_due(1)
            async with db.read() as conn:
                d = (await conn.execute(select(callback_deliveries))).mappings().one()
                rows = (
                    (
                        await conn.execute(
                            select(callback_attempts).where(callback_attempts.c.delivery_id == delivery_id)
                        )
                    )
                    .mappings()
                    .all()
                )
            return dict(d), [dict(r) for r in rows], sent_at, again
        finally:
            await db.dispose()

    return asyncio.run(main())


def test_410_gone_gives_up_after_one_attempt(tmp_path):
    d, attempts, _, again = run_delivery(tmp_path, answer(410), callback_retry_delays=(0,) * 10)
    assert d["state"] == "failed" and d["attempts"] == 1 and again == []  # due at once, yet never claimed again
    assert d["last_status"] == 410 and d["last_error"] == retry.GONE_ERROR
    assert [(a["attempt"], a["status_code"], a["error"]) for a in attempts] == [(1, 410, retry.GONE_ERROR)]


def test_retry_after_sets_the_next_due_time(tmp_path):
    d, attempts, sent_at, again = run_delivery(
        tmp_path,
        answer(503, {"Retry-After": "120"}),
        callback_retry_delays=(5,) * 10,
    )
    assert d["state"] == "pending" and d["attempts"] == 1 and again == []
    assert sent_at + 120 <= d["next_attempt_at"] <= time.time() + 120
    assert attempts[0]["error"] == d["last_error"] == "HTTP 503, Retry-After 120 s"


def test_retry_after_is_capped(tmp_path):
    d, _, sent_at, _ = run_delivery(
        tmp_path,
        answer(429, {"Retry-After": "86400"}),
        callback_retry_delays=(5,) * 10,
        callback_retry_after_max_seconds=600,
    )
    assert sent_at + 600 <= d["next_attempt_at"] <= time.time() + 600


def test_the_schedule_with_jitter_sets_the_next_due_time(tmp_path):
    settings = {"callback_retry_delays": (100,) * 10, "callback_retry_jitter": 0.2}
    d, _, sent_at, _ = run_delivery(tmp_path, answer(500), **settings)
    assert sent_at + 100 <= d["next_attempt_at"] <= time.time() + 100  # rand 0.5: the base itself
    assert d["last_error"] == "HTTP 500"


def test_a_wake_with_nothing_due_takes_no_write_transaction(tmp_path, monkeypatch):
    settings = servers.test_settings(tmp_path)
    writes: list[str] = []
    real_write = Database.write

    def counting(self):
        writes.append("write")
        return real_write(self)

    monkeypatch.setattr(Database, "write", counting)

    async def main():
        db = Database(settings.resolved_database_url, "NORMAL")
        try:
            await db.create_schema()
            account = (await admin.create_account(db, "A", "a@example.com"))["account_id"]
            await pending_deliveries(db, account, 1, time.time() + 3600)  # pending, but not due yet
            rt = SimpleNamespace(settings=settings, db=db)
            async with httpx.AsyncClient(transport=httpx.MockTransport(answer(200))) as http:
                dispatcher = CallbackDispatcher(rt, http, rand=lambda: 0.5)
                writes.clear()
                assert await dispatcher.claim_due(4) == []
                assert writes == []  # nothing due: no write transaction, no write lock
                [due] = await pending_deliveries(db, account, 1, time.time() - 1)
                writes.clear()
                assert [d["id"] for d in await dispatcher.claim_due(4)] == [due]
                assert writes == ["write"]
        finally:
            await db.dispose()

    asyncio.run(main())
