"""Upstream webhooks: a media upstream (fal's `fal_webhook`) calls POST /webhooks/upstream/{task_id} when a
job ends. The call only wakes the task; the worker then fetches the outcome over the upstream's
authenticated API, so nothing in the webhook body is trusted and no upstream signature scheme is needed.
The link carries our own signature, so nobody else can make tasks poll."""

from __future__ import annotations

import asyncio
import hmac
import time

from starlette.requests import Request
from starlette.routing import Route

from ..errors import ApiError
from ..providers.upstream.router import webhook_signature
from ..services import Services
from ..tasks import engine
from .context import runtime
from .responses import Json

POKE_FOR_SECONDS = 60.0  # a task in the middle of a step is poked again until the step ends
_background: set[asyncio.Task[None]] = set()


async def upstream_webhook(request: Request) -> Json:
    rt = runtime(request)
    task_id = request.path_params["task_id"]
    given = request.query_params.get("signature", "")
    if not hmac.compare_digest(webhook_signature(rt.signer, task_id).encode(), given.encode()):  # bytes: any input
        raise ApiError(401, "Invalid webhook signature")
    if not await poke(rt, task_id):
        # A worker holds the task right now (its step may have read "in progress" just before the job
        # ended): keep poking in the background until it lets go, so this wake-up is not lost.
        pending = asyncio.create_task(_poke_until_free(rt, task_id), name=f"webhook-{task_id}")
        _background.add(pending)
        pending.add_done_callback(_background.discard)
    return Json({"received": True})


async def poke(rt: Services, task_id: str) -> bool:
    """Make an unleased, unfinished task due now and wake a worker. False while a worker holds it."""
    outcome = await engine.make_due(rt.db, task_id)
    if outcome == "due":
        rt.wake_worker()
    return outcome != "held"  # finished or unknown: nothing to wake


async def _poke_until_free(rt: Services, task_id: str) -> None:
    deadline = time.monotonic() + POKE_FOR_SECONDS
    while time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        if await poke(rt, task_id):
            return


routes = [Route("/webhooks/upstream/{task_id}", upstream_webhook, methods=["POST"])]
