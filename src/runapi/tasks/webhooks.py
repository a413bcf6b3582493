"""An upstream's webhook about a task's job (POST /webhooks/upstream/{task_id}): the task's provider judges the
call (Provider.on_webhook); an authentic one makes the task due now and wakes a worker. Nothing else happens
here: the worker's next poll fetches the outcome over the provider's authenticated API."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

from ..providers import ProviderRegistry, WebhookCall, WebhookNotSupported
from ..store import Database
from . import engine

log = logging.getLogger("runapi.webhooks")
POKE_FOR_SECONDS = 60.0  # a task in the middle of a step is poked again until the step ends
_background: set[asyncio.Task[None]] = set()


class WebhookServices(Protocol):
    """What receiving a webhook uses of the services (runapi.services.Services is one)."""

    db: Database
    providers: ProviderRegistry

    def wake_worker(self) -> None: ...


async def receive(services: WebhookServices, call: WebhookCall) -> bool:
    """True when the call is taken (the task is checked now, or as soon as the worker holding it lets go);
    False when it is refused: an unknown task, a provider that takes no webhooks, or a call its provider does
    not find authentic. The three are not told apart, so the refusal says nothing about which tasks exist."""
    name = await engine.provider_of(services.db, call.task_id)
    if name is None:
        return False
    try:
        if not await services.providers.get(name).on_webhook(call):
            return False
    except WebhookNotSupported:
        return False
    if not await poke(services, call.task_id):
        # A worker holds the task right now (its step may have read "in progress" just before the job
        # ended): keep poking in the background until it lets go, so this wake-up is not lost.
        pending = asyncio.create_task(_poke_until_free(services, call.task_id), name=f"webhook-{call.task_id}")
        _background.add(pending)
        pending.add_done_callback(_background.discard)
    return True


async def poke(services: WebhookServices, task_id: str) -> bool:
    """Make an unleased, unfinished task due now and wake a worker. False while a worker holds it."""
    outcome = await engine.make_due(services.db, task_id)
    if outcome == "due":
        services.wake_worker()
    return outcome != "held"  # finished or unknown: nothing to wake


async def _poke_until_free(services: WebhookServices, task_id: str) -> None:
    deadline = time.monotonic() + POKE_FOR_SECONDS
    while time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        try:
            if await poke(services, task_id):
                return
        except Exception:  # database briefly unavailable: the worker's own polling remains the backstop
            log.warning("webhook for task %s: poke failed", task_id, exc_info=True)
            return
