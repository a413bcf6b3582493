"""The task engine's state changes on a real SQLite database in a temporary directory, without a server:
create → claim → release → finish (completed or failed), a lost lease, Idempotency-Key replays, and the money
each change moves (reserved at create, then settled or refunded exactly once)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import select

from runapi.auth import admin
from runapi.billing.limits import key_limits
from runapi.domain.task import NewTask, Task, TaskState
from runapi.errors import Conflict, Forbidden, InvalidInput
from runapi.settings import Settings
from runapi.storage import UrlSigner
from runapi.store import Database
from runapi.store.schema import accounts, callback_deliveries, ledger
from runapi.tasks import engine
from tests.support.migrated_db import copy_into, migrated_template

FAMILY, ACTION, MODEL = "nano_banana", "text_to_image", "nano-banana"
PRICE, CREDITS, LEASE = 10, 100, 30.0
SIGNER = UrlSigner(b"k" * 32)
T = TypeVar("T")


@dataclass
class Env:
    db: Database
    account: int

    def new(self, **over: Any) -> NewTask:
        fields: dict[str, Any] = {
            "account_id": self.account,
            "api_key_id": None,
            "family": FAMILY,
            "action": ACTION,
            "model": MODEL,
            "params": {"prompt": "a cat"},
            "price_cents": PRICE,
            "provider": "sandbox",
            "public_base_url": "http://test",
            **over,
        }
        return NewTask(**fields)

    async def create(self, **over: Any) -> Task:
        task, created = await engine.create_task(self.db, self.new(**over))
        assert created
        return task

    async def get(self, task: Task) -> Task:
        found = await engine.get_task(self.db, task.id, self.account)
        assert found is not None
        return found

    async def claim(self, owner: str = "w1", lease: float = LEASE) -> list[Task]:
        return await engine.claim_due(self.db, owner, 10, lease)

    async def finish(self, task: Task, owner: str = "w1", **outcome: Any) -> bool:
        return await engine.finish(self.db, task, owner, signer=SIGNER, url_ttl=60, **outcome)

    async def balance(self) -> int:
        async with self.db.read() as conn:
            return int(
                (await conn.execute(select(accounts.c.balance_cents).where(accounts.c.id == self.account))).scalar_one()
            )

    async def moves(self, task: Task) -> list[tuple[str, int]]:
        """The ledger entries of this task, in order: (kind, signed amount)."""
        async with self.db.read() as conn:
            rows = await conn.execute(
                select(ledger.c.kind, ledger.c.amount_cents).where(ledger.c.task_id == task.id).order_by(ledger.c.id)
            )
            return [(kind, amount) for kind, amount in rows.all()]


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrated_template(tmp_path_factory)


@pytest.fixture
def data_dir(tmp_path: Path, migrated: Path) -> Path:
    """A data directory of this test's own, holding a copy of the migrated database."""
    copy_into(migrated, tmp_path)
    return tmp_path


def run(data_dir: Path, scenario: Callable[[Env], Awaitable[T]]) -> T:
    """Run `scenario` on a new account in the database in `data_dir`."""

    async def go() -> T:
        db = Database(Settings(data_dir=data_dir).resolved_database_url)
        try:
            account = (await admin.create_account(db, "a", "a@example.com", CREDITS))["account_id"]
            return await scenario(Env(db, account))
        finally:
            await db.dispose()

    return asyncio.run(go())


def test_create_queues_the_task_and_reserves_its_price(data_dir):
    async def scenario(env: Env) -> None:
        task = await env.create()
        assert task.state is TaskState.QUEUED and (task.polls, task.failures, task.lease_owner) == (0, 0, None)
        assert await env.get(task) == task  # what create returns is what was stored
        assert await env.balance() == CREDITS - PRICE
        assert await env.moves(task) == [("reserve", -PRICE)]
        assert not await engine.is_terminal(env.db, task.id)

    run(data_dir, scenario)


def test_claim_leases_and_release_gives_the_task_back(data_dir):
    async def scenario(env: Env) -> None:
        task = await env.create()
        before = time.time()
        [claimed] = await env.claim("w1")
        assert claimed.id == task.id and claimed.state is TaskState.RUNNING and claimed.lease_owner == "w1"
        assert claimed.lease_until is not None and claimed.lease_until >= before + LEASE
        assert await env.claim("w2") == []  # leased: nobody else takes it
        later = time.time() + 100
        assert await engine.release(env.db, task.id, "w1", later, polls=1, provider_job={"job": 1})
        stored = await env.get(task)
        assert (stored.state, stored.lease_owner, stored.lease_until) == (TaskState.RUNNING, None, None)
        assert (stored.polls, stored.provider_job, stored.next_run_at) == (1, {"job": 1}, later)
        assert await env.claim("w2") == []  # not due before its next run
        assert await engine.make_due(env.db, task.id) == "due"  # an upstream webhook: due now
        [again] = await env.claim("w2")
        assert again.lease_owner == "w2" and again.polls == 1
        assert await env.moves(task) == [("reserve", -PRICE)]  # steps move no money

    run(data_dir, scenario)


def test_completing_settles_exactly_once(data_dir):
    async def scenario(env: Env) -> None:
        task = await env.create()
        [claimed] = await env.claim()
        result = {"files": {"images": [{"key": "generated/x/0.png"}]}, "extra": {}}
        assert await env.finish(claimed, result=result)
        done = await env.get(task)
        assert done.state is TaskState.COMPLETED and done.result == result and done.error is None
        assert done.completed_at is not None and done.lease_owner is None
        assert await engine.is_terminal(env.db, task.id)
        # a second finish (a retry, another worker) changes nothing and moves no money
        assert not await env.finish(claimed, result=result)
        assert not await env.finish(claimed, error="late failure")
        assert await env.get(task) == done
        assert await env.moves(task) == [("reserve", -PRICE), ("settle", 0)]
        assert await env.balance() == CREDITS - PRICE
        assert await env.claim() == []  # finished tasks are never claimed again

    run(data_dir, scenario)


def test_failing_refunds_exactly_once(data_dir):
    async def scenario(env: Env) -> None:
        task = await env.create()
        [claimed] = await env.claim()
        assert await env.finish(claimed, error="Upstream error: down")
        failed = await env.get(task)
        assert failed.state is TaskState.FAILED and failed.error == "Upstream error: down"
        assert failed.result is None and failed.completed_at is not None
        assert not await env.finish(claimed, error="again")
        assert not await env.finish(claimed, result={"files": {}, "extra": {}})
        assert await env.moves(task) == [("reserve", -PRICE), ("refund", PRICE)]
        assert await env.balance() == CREDITS

    run(data_dir, scenario)


def test_a_lost_lease_is_taken_over_and_the_old_holder_can_change_nothing(data_dir):
    async def scenario(env: Env) -> None:
        task = await env.create()
        [first] = await env.claim("w1", lease=-1.0)  # a lease that has already run out: w1 stalled
        [second] = await env.claim("w2")  # any worker takes an expired lease over
        assert second.id == task.id and second.lease_owner == "w2"
        # the first holder's writes all miss
        assert await engine.renew_leases(env.db, "w1", [task.id], LEASE) == 0
        assert not await engine.update_leased(env.db, task.id, "w1", provider_job={"stale": True})
        assert not await engine.release(env.db, task.id, "w1", time.time(), polls=9)
        assert not await env.finish(first, "w1", error="stale")
        stored = await env.get(task)
        assert (stored.state, stored.lease_owner, stored.polls, stored.provider_job) == (
            TaskState.RUNNING,
            "w2",
            0,
            None,
        )
        assert await engine.renew_leases(env.db, "w2", [task.id], LEASE) == 1
        assert await env.finish(second, "w2", result={"files": {}, "extra": {}})
        assert await env.moves(task) == [("reserve", -PRICE), ("settle", 0)]

    run(data_dir, scenario)


def test_make_due_says_whether_a_worker_holds_the_task(data_dir):
    async def scenario(env: Env) -> None:
        task = await env.create()
        assert await engine.make_due(env.db, task.id) == "due"
        [claimed] = await env.claim()
        assert await engine.make_due(env.db, task.id) == "held"
        assert await env.finish(claimed, result={"files": {}, "extra": {}})
        assert await engine.make_due(env.db, task.id) == "gone"
        assert await engine.make_due(env.db, "no-such-task") == "gone"

    run(data_dir, scenario)


def test_an_idempotency_key_replays_its_request_and_refuses_others(data_dir):
    async def scenario(env: Env) -> None:
        original, created = await engine.create_task(env.db, env.new(idempotency_key="k1"))
        assert created
        replay, created = await engine.create_task(env.db, env.new(idempotency_key="k1"))
        assert not created and replay == await env.get(original)
        await env.claim()
        replay, _ = await engine.create_task(env.db, env.new(idempotency_key="k1"))
        assert replay.id == original.id and replay.state is TaskState.RUNNING  # its current state
        with pytest.raises(Conflict, match="different request parameters"):
            await engine.create_task(env.db, env.new(idempotency_key="k1", params={"prompt": "a dog"}))
        with pytest.raises(Conflict, match="another endpoint"):
            await engine.create_task(env.db, env.new(idempotency_key="k1", family="grok_imagine"))
        assert await env.balance() == CREDITS - PRICE  # charged once
        assert await env.moves(original) == [("reserve", -PRICE)]
        other, created = await engine.create_task(env.db, env.new(idempotency_key="k2"))
        assert created and other.id != original.id

    run(data_dir, scenario)


def test_a_failed_task_gives_its_spend_limit_back(data_dir):
    async def scenario(env: Env) -> None:
        limits = key_limits("token_x", PRICE, None)  # room for one task at a time
        first = await env.create(limits=limits)
        assert first.spend_counters  # the counters its reservation charged, kept with the task
        with pytest.raises(Forbidden, match="API key credit limit exceeded"):
            await env.create(limits=limits)
        [claimed] = await env.claim()
        assert claimed.spend_counters == first.spend_counters
        assert await env.finish(claimed, error="Content policy")
        await env.create(limits=limits)  # refunded and given back: the limit has room again
        assert await env.balance() == CREDITS - PRICE

    run(data_dir, scenario)


def test_finishing_queues_the_callback_in_the_same_step(data_dir):
    async def scenario(env: Env) -> None:
        task = await env.create(params={"prompt": "a cat", "callback_url": "https://example.com/cb"})
        assert task.callback_url == "https://example.com/cb"
        [claimed] = await env.claim()
        assert await env.finish(claimed, result={"files": {}, "extra": {}})
        assert not await env.finish(claimed, result={"files": {}, "extra": {}})
        async with env.db.read() as conn:
            rows = (
                await conn.execute(
                    select(callback_deliveries.c.state, callback_deliveries.c.url).where(
                        callback_deliveries.c.task_id == task.id
                    )
                )
            ).all()
        assert [tuple(r) for r in rows] == [("pending", "https://example.com/cb")]

    run(data_dir, scenario)


def test_references_must_name_a_completed_task_of_the_right_kind(data_dir):
    from runapi.catalog import get_catalog

    extend = get_catalog().action("grok_imagine", "extend_video")
    assert extend is not None

    async def scenario(env: Env) -> None:
        source = await env.create(family="grok_imagine", action="text_to_video", model=None)
        params = {"source_task_id": source.id}
        with pytest.raises(InvalidInput, match="Records are being generated"):
            await engine.resolve_refs(env.db, env.account, extend, params)
        # the worker resolves leniently: it takes what is there
        assert (await engine.resolve_refs(env.db, env.account, extend, params, strict=False)) == {
            "source_task_id": await env.get(source)
        }
        [claimed] = await env.claim()
        assert await env.finish(claimed, result={"files": {"videos": [{"key": "v.mp4"}]}, "extra": {}})
        refs = await engine.resolve_refs(env.db, env.account, extend, params)
        assert refs == {"source_task_id": await env.get(source)}
        assert refs["source_task_id"].state is TaskState.COMPLETED

        broken = await env.create(family="grok_imagine", action="text_to_video", model=None)
        [claimed] = await env.claim()
        assert await env.finish(claimed, error="boom")
        with pytest.raises(InvalidInput, match=rf"task {broken.id} is failed\)"):
            await engine.resolve_refs(env.db, env.account, extend, {"source_task_id": broken.id})

        image = await env.create()  # a nano_banana image: the wrong kind
        with pytest.raises(InvalidInput, match=f"is a {FAMILY}/{ACTION} task"):
            await engine.resolve_refs(env.db, env.account, extend, {"source_task_id": image.id})

    run(data_dir, scenario)
