"""Upstream webhooks at the edge: POST /webhooks/upstream/{task_id} (fal's `fal_webhook`, when a job ends) is
read into a WebhookCall (the body bounded) and handed to tasks.webhooks, where the task's provider judges it.
A refused call is a 401 whatever the reason, so the endpoint tells strangers nothing about which tasks exist."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from ..errors import ApiError
from ..providers import WebhookCall
from ..tasks import webhooks
from .context import runtime
from .responses import Json

MAX_WEBHOOK_BODY = 1 << 20  # a job-ended notice is small; the outcome itself is fetched over the upstream's API


async def upstream_webhook(request: Request) -> Json:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_WEBHOOK_BODY:
            raise ApiError(413, "Webhook body too large")
    call = WebhookCall(
        task_id=request.path_params["task_id"],
        query=dict(request.query_params),
        headers=dict(request.headers),
        body=bytes(body),
    )
    if not await webhooks.receive(runtime(request), call):
        raise ApiError(401, "Invalid webhook signature")
    return Json({"received": True})


routes = [Route("/webhooks/upstream/{task_id}", upstream_webhook, methods=["POST"])]
