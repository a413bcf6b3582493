"""tasks.webhooks.receive: an upstream's webhook is judged by the task's provider (Provider.on_webhook); an
authentic call makes the task due now and wakes a worker; every refusal looks the same. On SQLite, no sockets;
the upstream provider's own judgement (our signed link) over RoutedProvider."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy import select, update

from runapi.auth import admin
from runapi.domain.task import NewTask
from runapi.providers import ProviderRegistry, WebhookCall
from runapi.providers.fake import FakeProvider
from runapi.providers.upstream.router import MediaRouter, RoutedProvider, webhook_signature
from runapi.settings import Settings
from runapi.storage import UrlSigner
from runapi.store import Database
from runapi.store.schema import tasks
from runapi.tasks import engine, webhooks


@dataclass
class Services:  # tasks.webhooks.WebhookServices
    db: Database
    providers: ProviderRegistry
    wakes: list[int] = field(default_factory=list)

    def wake_worker(self) -> None:
        self.wakes.append(1)


async def setup(tmp_path, provider_name: str, registry: ProviderRegistry) -> tuple[Services, str]:
    s = Settings(data_dir=tmp_path)
    db = Database(s.resolved_database_url)
    await db.create_schema()
    account = (await admin.create_account(db, "a", "a@example.com", 1000))["account_id"]
    task, _ = await engine.create_task(
        db,
        NewTask(
            account_id=account,
            api_key_id=None,
            family="elevenlabs",
            action="text_to_speech",
            model="text-to-speech-turbo-v2.5",
            params={"text": "hi"},
            price_cents=1,
            provider=provider_name,
            public_base_url="http://test",
        ),
    )
    async with db.write() as conn:  # not due: the webhook is what makes it due
        await conn.execute(update(tasks).where(tasks.c.id == task.id).values(next_run_at=1e12))
    return Services(db, registry), task.id


async def next_run_at(db: Database, task_id: str) -> float:
    async with db.read() as conn:
        return float((await conn.execute(select(tasks.c.next_run_at).where(tasks.c.id == task_id))).scalar_one())


def test_an_authentic_call_makes_the_task_due_and_wakes_a_worker(tmp_path):
    async def go():
        fake = FakeProvider(name="fake")
        registry = ProviderRegistry(FakeProvider(name="sandbox"))
        registry.register(fake)
        svc, task_id = await setup(tmp_path, "fake", registry)
        assert await webhooks.receive(svc, WebhookCall(task_id, {}, {}, b"{}")) is True
        assert await next_run_at(svc.db, task_id) < 1e12 and svc.wakes == [1]
        assert fake.methods() == ["on_webhook"]

    asyncio.run(go())


def test_refusals_look_alike_and_change_nothing(tmp_path):
    async def go():
        refusing = FakeProvider(name="fake", accept_webhooks=False)
        registry = ProviderRegistry(FakeProvider(name="sandbox"))
        registry.register(refusing)
        svc, task_id = await setup(tmp_path, "fake", registry)
        assert await webhooks.receive(svc, WebhookCall(task_id, {}, {}, b"")) is False  # not authentic
        assert await webhooks.receive(svc, WebhookCall("no-such-task", {}, {}, b"")) is False  # unknown task
        assert await next_run_at(svc.db, task_id) == 1e12 and svc.wakes == []

    asyncio.run(go())


def test_a_provider_without_webhooks_refuses(tmp_path):
    class NoHooks(FakeProvider):
        async def on_webhook(self, call: WebhookCall) -> bool:
            from runapi.providers import WebhookNotSupported

            raise WebhookNotSupported(self.name)

    async def go():
        registry = ProviderRegistry(FakeProvider(name="sandbox"))
        registry.register(NoHooks(name="plain"))
        svc, task_id = await setup(tmp_path, "plain", registry)
        assert await webhooks.receive(svc, WebhookCall(task_id, {}, {}, b"")) is False
        assert svc.wakes == []

    asyncio.run(go())


def test_an_upstream_deployment_accepts_only_our_signed_link():
    import httpx

    signer = UrlSigner(b"s" * 32)

    async def go():
        async with httpx.AsyncClient() as downloads:
            routed = RoutedProvider("fal-main", MediaRouter([], downloads, signer, "http://test"))
            good = webhook_signature(signer, "t1")
            assert await routed.on_webhook(WebhookCall("t1", {"signature": good}, {}, b"")) is True
            assert await routed.on_webhook(WebhookCall("t2", {"signature": good}, {}, b"")) is False  # other task
            assert await routed.on_webhook(WebhookCall("t1", {"signature": "é"}, {}, b"")) is False
            assert await routed.on_webhook(WebhookCall("t1", {}, {}, b"")) is False
            unsigned = RoutedProvider("fal-main", MediaRouter([], downloads, None, None))
            assert await unsigned.on_webhook(WebhookCall("t1", {"signature": good}, {}, b"")) is False

    asyncio.run(go())
