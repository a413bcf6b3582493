"""The task runner over FakeProvider: one step at a time on SQLite, no sockets. What the worker asks the
provider, and what becomes of the task and its credits."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import pytest
from sqlalchemy import update

from runapi.auth import admin
from runapi.domain.task import NewTask
from runapi.providers import (
    ProviderRegistry,
    TaskFailed,
    TaskInput,
    TransientFailure,
    WebhookCall,
)
from runapi.providers.base import Progress, Provider
from runapi.providers.fake import FakeProvider
from runapi.settings import Settings
from runapi.storage import LocalStorage, UrlSigner
from runapi.store import Database
from runapi.store.schema import tasks
from runapi.tasks import engine
from runapi.tasks.worker import TaskRunner

FAMILY, ACTION, MODEL = "elevenlabs", "text_to_speech", "text-to-speech-turbo-v2.5"
PRICE = 10


@dataclass
class Services:  # the slice of runapi.services.Services the worker uses (tasks.worker.WorkerServices)
    settings: Settings
    db: Database
    storage: LocalStorage
    signer: UrlSigner
    providers: ProviderRegistry
    callback_wake: asyncio.Event = field(default_factory=asyncio.Event)
    finished: list[str] = field(default_factory=list)

    def task_finished(self, task_id: str) -> None:
        self.finished.append(task_id)


def run(provider: FakeProvider, tmp_path, *, steps: int, **settings) -> tuple[dict, Services]:
    """Create one task routed to `provider`, run up to `steps` worker steps on it (each on the task as claimed),
    and return the task's row and the services."""

    async def go():
        s = Settings(data_dir=tmp_path, **settings)
        db = Database(s.resolved_database_url)
        await db.create_schema()
        sandbox = FakeProvider(name="sandbox")  # the registry's default; never used here
        registry = ProviderRegistry(sandbox)
        registry.register(provider)
        svc = Services(s, db, LocalStorage(tmp_path / "files"), UrlSigner(b"k" * 32), registry)
        account = (await admin.create_account(db, "a", "a@example.com", 1000))["account_id"]
        task, _ = await engine.create_task(
            db,
            NewTask(
                account_id=account,
                api_key_id=None,
                family=FAMILY,
                action=ACTION,
                model=MODEL,
                params={"text": "hi"},
                price_cents=PRICE,
                provider=provider.name,
                public_base_url="http://test",
            ),
        )
        runner = TaskRunner(svc, "owner-1")
        for _ in range(steps):
            async with db.write() as conn:  # due now, whatever backoff the last step chose
                await conn.execute(update(tasks).where(tasks.c.id == task.id).values(next_run_at=0))
            claimed = await engine.claim_due(db, "owner-1", 1, 30.0)
            if not claimed:
                break
            await runner.step(claimed[0])
        row = await engine.get_task(db, task.id, account)
        await db.dispose()
        return row, svc

    return asyncio.run(go())


def test_fake_provider_implements_the_provider_interface():
    assert isinstance(FakeProvider(), Provider)
    with pytest.raises(TypeError):  # submit and poll are required of every provider
        type("Half", (Provider,), {"name": "half"})()


def test_a_task_completes_after_progress(tmp_path):
    provider = FakeProvider(script=[Progress(poll_in=0.0), FakeProvider.done(b"img", note="x")])
    row, svc = run(provider, tmp_path, steps=3)
    assert row.state == "completed"
    assert provider.methods() == ["submit", "poll", "poll"]  # submitted once, its job kept between steps
    assert all(c.job == {"fake_job": row.id} for c in provider.calls if c.method == "poll")
    assert row.result["extra"] == {"note": "x"}
    key = row.result["files"]["images"][0]["key"]
    assert asyncio.run(svc.storage.read(key)) == b"img"
    assert svc.finished == [row.id]


def test_a_transient_failure_is_retried(tmp_path):
    provider = FakeProvider(script=[TransientFailure("Upstream busy"), FakeProvider.done()])
    row, _ = run(provider, tmp_path, steps=3)
    assert row.state == "completed"
    assert provider.methods() == ["submit", "poll", "poll"]


def test_transient_failures_until_the_attempts_run_out_fail_the_task_with_their_message(tmp_path):
    provider = FakeProvider(then=TransientFailure("Upstream error: down"))
    row, svc = run(provider, tmp_path, steps=5, max_task_attempts=3)
    assert row.state == "failed" and row.error == "Upstream error: down"
    assert provider.methods().count("poll") == 3
    assert svc.finished == [row.id]


def test_a_permanent_failure_fails_at_once(tmp_path):
    provider = FakeProvider(script=[TaskFailed("Content policy")])
    row, _ = run(provider, tmp_path, steps=3)
    assert row.state == "failed" and row.error == "Content policy"
    assert provider.methods() == ["submit", "poll"]


def test_a_timed_out_task_has_its_job_cancelled(tmp_path):
    # the job started, then the task outlived task_timeout_seconds: cancelled at the provider, failed
    # ("Task timed out", refunded), and not polled again
    provider = FakeProvider(then=Progress(poll_in=0.0))
    row, svc = _run_then_age(provider, tmp_path)
    assert row.state == "failed" and row.error == "Task timed out"
    assert provider.methods() == ["submit", "poll", "cancel"]
    assert provider.calls[-1].job == {"fake_job": row.id}
    assert svc.finished == [row.id]


def _run_then_age(provider: FakeProvider, tmp_path):
    """One step (the job starts), then the task outlives task_timeout_seconds before its next step."""

    async def go():
        s = Settings(data_dir=tmp_path, task_timeout_seconds=60)
        db = Database(s.resolved_database_url)
        await db.create_schema()
        registry = ProviderRegistry(FakeProvider(name="sandbox"))
        registry.register(provider)
        svc = Services(s, db, LocalStorage(tmp_path / "files"), UrlSigner(b"k" * 32), registry)
        account = (await admin.create_account(db, "a", "a@example.com", 1000))["account_id"]
        task, _ = await engine.create_task(
            db,
            NewTask(
                account_id=account,
                api_key_id=None,
                family=FAMILY,
                action=ACTION,
                model=MODEL,
                params={"text": "hi"},
                price_cents=PRICE,
                provider=provider.name,
                public_base_url="http://test",
            ),
        )
        runner = TaskRunner(svc, "owner-1")
        await runner.step((await engine.claim_due(db, "owner-1", 1, 30.0))[0])
        async with db.write() as conn:
            await conn.execute(
                update(tasks).where(tasks.c.id == task.id).values(created_at=time.time() - 120, next_run_at=0)
            )
        await runner.step((await engine.claim_due(db, "owner-1", 1, 30.0))[0])
        row = await engine.get_task(db, task.id, account)
        await db.dispose()
        return row, svc

    return asyncio.run(go())


def test_webhooks_and_cancel_have_defaults():
    class Minimal(Provider):
        name = "minimal"

        async def submit(self, task):
            return {}

        async def poll(self, task, job):
            return FakeProvider.done()

    from runapi.catalog import get_catalog
    from runapi.providers import WebhookNotSupported

    action = get_catalog().action(FAMILY, ACTION)
    inp = TaskInput(id="t", action=action, model=None, params={})
    assert asyncio.run(Minimal().cancel(inp, {})) is False
    with pytest.raises(WebhookNotSupported):
        asyncio.run(Minimal().on_webhook(WebhookCall("t", {}, {}, b"")))
    fake = FakeProvider(accept_webhooks=False)
    assert asyncio.run(fake.on_webhook(WebhookCall("t", {}, {}, b""))) is False
    assert fake.methods() == ["on_webhook"]


def _count_writes(monkeypatch) -> list[str]:
    """The name of every write transaction's function (Database.write_sync) from here on."""
    names: list[str] = []
    real = Database.write_sync

    async def counting(self, fn, *args):
        names.append(getattr(fn, "__name__", repr(fn)))
        return await real(self, fn, *args)

    monkeypatch.setattr(Database, "write_sync", counting)
    return names


def test_a_local_job_is_written_with_the_finish_not_in_a_transaction_of_its_own(tmp_path, monkeypatch):
    writes = _count_writes(monkeypatch)
    provider = FakeProvider(local_jobs=True)
    row, _ = run(provider, tmp_path, steps=1)
    assert row.state == "completed"
    assert row.provider_job == {"fake_job": row.id}  # recorded, in the finishing commit
    step_writes = writes[writes.index("claim") + 1 :]
    assert step_writes == ["_close_all"]  # claim, then the one commit that ends the task


def test_a_remote_job_is_written_before_its_first_poll(tmp_path, monkeypatch):
    writes = _count_writes(monkeypatch)
    row, _ = run(FakeProvider(), tmp_path, steps=1)
    assert row.state == "completed"
    assert writes[writes.index("claim") + 1 :] == ["_update_leased", "_close_all"]


def test_a_local_job_lost_with_its_step_is_submitted_again(tmp_path):
    # the first poll fails: the step ends without the job written, so the next step starts the job again
    provider = FakeProvider(local_jobs=True, script=[TransientFailure("busy")])
    row, _ = run(provider, tmp_path, steps=3)
    assert row.state == "completed"
    assert provider.methods() == ["submit", "poll", "submit", "poll"]


def test_a_local_job_in_progress_is_kept_by_the_release(tmp_path):
    provider = FakeProvider(local_jobs=True, script=[Progress(poll_in=0.0)])
    row, _ = run(provider, tmp_path, steps=3)
    assert row.state == "completed"
    assert provider.methods() == ["submit", "poll", "poll"]  # the release wrote the job: not submitted again
