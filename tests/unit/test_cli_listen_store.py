"""The `runapi listen` store (callbacks/listen.py) on a real SQLite file: what is queued and when, the long
poll, acks, session expiry and limits, and the signature an event is handed out with."""

import asyncio
import json

import pytest

from runapi.auth import admin
from runapi.callbacks import listen, signing
from runapi.errors import RateLimited
from runapi.store import Database


def run(tmp_path, scenario):
    async def go():
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'l.db'}", "NORMAL")
        await db.create_schema()
        try:
            a = (await admin.create_account(db, "A", "a@a.test"))["account_id"]
            b = (await admin.create_account(db, "B", "b@b.test"))["account_id"]
            return await scenario(db, a, b)
        finally:
            await db.dispose()

    return asyncio.run(go())


def queue(db, account, task_id, body=None, now=None):
    import time

    body = body or {"id": task_id, "status": "completed"}
    return db.write_sync(listen.queue_final, account, task_id, body, time.time() if now is None else now)


async def no_sleep(_):
    return None


def test_nothing_is_kept_while_no_listener_is_live(tmp_path):
    async def scenario(db, a, b):
        assert await queue(db, a, "t1") is False
        token = await listen.open_session(db, a)
        assert await listen.pending(db, a, 0) == []
        assert await queue(db, a, "t2") is True
        assert await queue(db, b, "t3") is False  # another account's task: its own (absent) listeners
        assert [e.task_id for e in await listen.pending(db, a, 0)] == ["t2"]
        assert await listen.pending(db, b, 0) == []
        assert await listen.close_session(db, a, token)
        assert await queue(db, a, "t4") is False
        assert not await listen.close_session(db, a, token)

    run(tmp_path, scenario)


def test_an_acked_event_is_not_handed_out_again_an_unacked_one_is(tmp_path):
    async def scenario(db, a, b):
        token = await listen.open_session(db, a)
        for t in ("t1", "t2", "t3"):
            await queue(db, a, t)
        first = await listen.poll(db, a, token, 0, 0, sleep=no_sleep)
        assert [e.task_id for e in first] == ["t1", "t2", "t3"]
        assert await listen.ack(db, a, first[0].id)
        assert await listen.ack(db, a, first[0].id)  # again is fine
        assert not await listen.ack(db, b, first[1].id)  # not another account's
        assert not await listen.ack(db, a, 10**9)
        # a cursor past t1 hands out the rest; from 0 again (a new session) the unacked ones come back
        assert [e.task_id for e in await listen.poll(db, a, token, first[0].id, 0, sleep=no_sleep)] == ["t2", "t3"]
        await listen.ack(db, a, first[1].id)
        again = await listen.open_session(db, a)
        assert [e.task_id for e in await listen.poll(db, a, again, 0, 0, sleep=no_sleep)] == ["t3"]

    run(tmp_path, scenario)


def test_an_empty_poll_waits_its_bounded_time_then_answers_empty(tmp_path):
    async def scenario(db, a, b):
        token = await listen.open_session(db, a)
        now = [0.0]
        slept = []

        async def fake_sleep(seconds):
            slept.append(seconds)
            now[0] += seconds

        found = await listen.poll(db, a, token, 0, 999, sleep=fake_sleep, clock=lambda: now[0])
        assert found == []
        assert sum(slept) == pytest.approx(listen.MAX_WAIT_SECONDS)  # the wait is capped
        assert all(s <= listen.POLL_STEP_SECONDS for s in slept)
        assert await listen.poll(db, a, "lsn_unknown", 0, 0, sleep=fake_sleep) is None
        assert await listen.poll(db, b, token, 0, 0, sleep=fake_sleep) is None  # not B's session

    run(tmp_path, scenario)


def test_a_poll_returns_as_soon_as_an_event_is_queued(tmp_path):
    async def scenario(db, a, b):
        token = await listen.open_session(db, a)
        calls = []

        async def queue_on_first_sleep(seconds):
            calls.append(seconds)
            if len(calls) == 1:
                await queue(db, a, "late")

        found = await listen.poll(db, a, token, 0, 10, sleep=queue_on_first_sleep)
        assert [e.task_id for e in found] == ["late"] and len(calls) == 1

    run(tmp_path, scenario)


def test_an_idle_session_expires_and_stops_the_queue(tmp_path):
    async def scenario(db, a, b):
        import time

        token = await listen.open_session(db, a, now=time.time() - listen.SESSION_IDLE_SECONDS - 5)
        assert not await listen.touch_session(db, a, token)
        assert await queue(db, a, "t1") is False

    run(tmp_path, scenario)


def test_sessions_and_pending_events_are_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(listen, "MAX_SESSIONS_PER_ACCOUNT", 2)
    monkeypatch.setattr(listen, "MAX_PENDING_PER_ACCOUNT", 2)

    async def scenario(db, a, b):
        await listen.open_session(db, a)
        await listen.open_session(db, a)
        with pytest.raises(RateLimited) as refused:
            await listen.open_session(db, a)
        assert refused.value.retry_after and refused.value.code == "listener_limit_reached"
        await listen.open_session(db, b)  # per account
        assert [await queue(db, a, t) for t in ("t1", "t2", "t3")] == [True, True, False]

    run(tmp_path, scenario)


def test_an_event_is_signed_as_callbacks_are(tmp_path):
    async def scenario(db, a, b):
        token = await listen.open_session(db, a)
        await queue(db, a, "t1", {"id": "t1", "status": "completed", "images": [{"url": "https://x/y.png"}]})
        (event,) = await listen.poll(db, a, token, 0, 0, sleep=no_sleep)
        secret = await listen.callback_secret(db, a)
        assert secret == await admin.callback_secret(db, a)
        out = listen.signed(event, secret, now=1767225600)
        h = out["headers"]
        assert h["X-Callback-Timestamp"] == "1767225600" and h["X-Callback-Id"] == event.callback_id
        assert h["X-Callback-Signature"] == signing.sign(secret, event.callback_id, 1767225600, out["signed_body"])
        assert json.loads(out["signed_body"])["images"][0]["url"] == "https://x/y.png"
        assert out["id"] == event.id and out["task_id"] == "t1"

    run(tmp_path, scenario)
