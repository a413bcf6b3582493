"""engine.cancel on SQLite: a queued or running task fails "Canceled by the client", refunded once, with its usage
row and final callback; a worker still holding the lease then changes nothing; a finished task is a Conflict;
another account's task is not found."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from runapi.auth import admin
from runapi.domain.task import TaskState
from runapi.errors import Conflict, TaskNotFound
from runapi.store.schema import callback_deliveries, usage_events
from runapi.tasks import engine
from tests.unit import test_engine_states as states
from tests.unit.test_engine_states import CREDITS, PRICE, SIGNER, Env, run

# the engine tests' fixtures (a migrated SQLite database copied per test), shared rather than repeated
migrated, data_dir = states.migrated, states.data_dir


async def cancel(env: Env, task_id: str, account: int | None = None):
    return await engine.cancel(env.db, task_id, env.account if account is None else account, signer=SIGNER, url_ttl=60)


async def usage_rows(env: Env, task_id: str) -> list[tuple[str, int]]:
    async with env.db.read() as conn:
        rows = await conn.execute(
            select(usage_events.c.status, usage_events.c.charged_cents).where(usage_events.c.ref == task_id)
        )
        return [(s, c) for s, c in rows.all()]


def test_cancelling_a_queued_task_fails_and_refunds_it_once(data_dir):
    async def scenario(env: Env) -> None:
        task = await env.create()
        assert await env.balance() == CREDITS - PRICE
        canceled = await cancel(env, task.id)
        assert canceled.state is TaskState.FAILED and canceled.error == engine.CANCELED == "Canceled by the client"
        assert canceled.completed_at is not None and canceled.lease_owner is None
        assert await env.get(task) == canceled
        assert await env.balance() == CREDITS
        assert await env.moves(task) == [("reserve", -PRICE), ("refund", PRICE)]
        assert await usage_rows(env, task.id) == [("failed", 0)]
        assert await env.claim() == []  # never run afterwards
        with pytest.raises(Conflict, match="Task is already failed"):
            await cancel(env, task.id)
        assert await env.moves(task) == [("reserve", -PRICE), ("refund", PRICE)]

    run(data_dir, scenario)


def test_a_cancel_wins_over_the_worker_holding_the_lease(data_dir):
    async def scenario(env: Env) -> None:
        task = await env.create(params={"prompt": "a cat", "callback_url": "https://example.com/cb"})
        [claimed] = await env.claim("w1")
        canceled = await cancel(env, task.id)
        assert canceled.state is TaskState.FAILED
        # the worker's later writes all miss: no progress, no release, no finish, no second settlement
        assert not await engine.update_leased(env.db, task.id, "w1", provider_job={"job": 1})
        assert not await engine.release(env.db, task.id, "w1", 0.0, polls=1)
        assert await engine.renew_leases(env.db, "w1", [task.id], 30.0) == 0
        assert not await env.finish(claimed, result={"files": {}, "extra": {}})
        assert not await env.finish(claimed, error="late")
        assert await env.get(task) == canceled
        assert await env.moves(task) == [("reserve", -PRICE), ("refund", PRICE)]
        assert await env.balance() == CREDITS
        assert await usage_rows(env, task.id) == [("failed", 0)]
        async with env.db.read() as conn:
            bodies = (
                await conn.execute(select(callback_deliveries.c.body).where(callback_deliveries.c.task_id == task.id))
            ).all()
        assert len(bodies) == 1 and '"Canceled by the client"' in bodies[0][0]

    run(data_dir, scenario)


def test_a_finished_task_cannot_be_cancelled(data_dir):
    async def scenario(env: Env) -> None:
        task = await env.create()
        [claimed] = await env.claim()
        assert await env.finish(claimed, result={"files": {}, "extra": {}})
        with pytest.raises(Conflict, match="Task is already completed"):
            await cancel(env, task.id)
        assert await env.moves(task) == [("reserve", -PRICE), ("settle", 0)]

    run(data_dir, scenario)


def test_another_accounts_task_is_not_found(data_dir):
    async def scenario(env: Env) -> None:
        task = await env.create()
        other = (await admin.create_account(env.db, "b", "b@example.com", CREDITS))["account_id"]
        with pytest.raises(TaskNotFound):
            await cancel(env, task.id, other)
        with pytest.raises(TaskNotFound):
            await cancel(env, "no-such-task")
        assert (await env.get(task)).state is TaskState.QUEUED

    run(data_dir, scenario)
