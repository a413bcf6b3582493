"""Luma's own Dream Machine API (https://docs.lumalabs.ai/docs/api), `Authorization: Bearer <key>`:
  POST /generations/video/modify  {generation_type: modify_video, media: {url}, mode, model, prompt, ...}
                                  → the Generation {id, state, ...}
  GET  /generations/{id} → {state: queued | dreaming | completed | failed, assets: {video}, failure_reason}
  DELETE /generations/{id} removes the generation (Luma's only way to drop a job).
HTTP errors are `{"detail": "..."}`. A failed generation carries only a failure_reason: a moderation refusal
("... not allowed ...", "... moderation ...") is final; any other reason is Luma's side and the job moves on.

Which Luma model runs each of our (action, model), and the body, is data (luma_models.yaml). Luma fetches the
input links itself (they must be publicly reachable). With `webhooks: true` the deployment gives Luma our own
signed wake-up link as callback_url, so a finished generation is checked at once (polling stays the backstop)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx

from ..base import TaskInput
from . import errors
from .adapter import Finished, Running, Started, TableAdapter, UpstreamFile
from .http_call import bearer, call, or_running
from .mapping import Context

TABLE_PATH = Path(__file__).with_name("luma_models.yaml")
RUNNING = frozenset({"queued", "dreaming"})
POLICY = re.compile(r"moderation|not allowed|safety|inappropriate", re.IGNORECASE)


def generation_failure(data: dict[str, Any], name: str) -> errors.UpstreamError:
    """A failed generation as the router should see it: a moderation refusal is final, anything else moves on."""
    reason = str(data.get("failure_reason") or "The generation failed")
    if POLICY.search(reason):
        return errors.UpstreamError(reason, retryable=False)
    return errors.UpstreamError(f"{name} failed the generation: {reason}", job_failed=True)


class Luma(TableAdapter):
    default_base_url = "https://api.lumalabs.ai/dream-machine/v1"
    table_path = TABLE_PATH  # Luma fetches the input links itself

    async def start(self, task: TaskInput, ctx: Context) -> Started:
        mapping, route = self.table.route_for(task, self.deployment.name)
        app = self.deployment.model_map.get(route.app, route.app)
        endpoint, _, model = app.rpartition("/")
        body = {**mapping.body(route, ctx), "model": model}
        if self.deployment.webhooks and ctx.webhook_url:
            body["callback_url"] = ctx.webhook_url
        resp = await self._call("POST", f"/{endpoint}", json=body)
        generation_id = errors.json_object(resp, self.deployment.name).get("id")
        if not isinstance(generation_id, str) or not generation_id:
            raise errors.UpstreamError(f"{self.deployment.name} answered without a generation id")
        handle = {"id": generation_id, "app": app, "meta": mapping.item_meta(ctx)}
        return Started(handle, poll_in=self.deployment.poll_seconds or 5.0)

    async def check(self, task: TaskInput, handle: dict[str, Any]) -> Running | Finished:
        resp = await or_running(self._call("GET", f"/generations/{handle['id']}", job_failed=True), 5.0)
        if isinstance(resp, Running):  # polling too fast is not a failure of the job
            return resp
        data = errors.json_object(resp, self.deployment.name)
        state = data.get("state")
        if state in RUNNING:
            return Running(poll_in=self.deployment.poll_seconds)
        if state == "failed":
            raise generation_failure(data, self.deployment.name)
        if state != "completed":
            raise errors.UpstreamError(f"{self.deployment.name} answered an unknown state {state!r}")
        video = (data.get("assets") or {}).get("video")
        if not isinstance(video, str) or not video:
            raise errors.UpstreamError(f"{self.deployment.name} returned no video", job_failed=True)
        return Finished([UpstreamFile("videos", url=video, meta=dict(handle.get("meta") or {}))])

    async def cancel(self, handle: dict[str, Any]) -> None:
        try:
            await self._call("DELETE", f"/generations/{handle['id']}")
        except errors.UpstreamError:
            pass  # already gone: nothing left to stop

    async def _call(self, method: str, path: str, job_failed: bool = False, **kw: Any) -> httpx.Response:
        url = f"{self.deployment.base_url}{path}"  # our key goes to the configured base only
        return await call(
            self.http,
            self.deployment,
            method,
            url,
            headers=bearer(self.deployment.api_key),
            job_failed=job_failed,
            **kw,
        )
