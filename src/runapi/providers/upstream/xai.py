"""xAI's Grok Imagine API (https://api.x.ai/v1; docs.x.ai), `Authorization: Bearer <api key>`:
  POST /images/generations, /images/edits  → {data: [{b64_json | url}]}  (synchronous)
  POST /videos/generations                 → {request_id}
  GET  /videos/{request_id}                → {status pending | done | expired | failed, video: {url, duration,
                                              respect_moderation}, model}
Which endpoint and model serve each of our Grok Imagine (action, model), and the body, is data (xai_models.yaml).
Errors are HTTP statuses with {code, error}: 400 for a bad request or a content-policy refusal (final), 401/403
key or permission, 429 rate limit, 5xx server (next deployment)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..base import TaskInput
from . import errors
from .adapter import Finished, Running, Started, UpstreamFile
from .http_call import b64_bytes
from .jobs import JobApi, object_at
from .mapping import Context

FAILED = ("expired", "failed")


def xai_message(data: Any) -> str | None:
    """{code, error}: the error text (the code names its kind, e.g. "Client specified an invalid argument")."""
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return str(data["error"])
    return errors.first_message(data)


def image_file(item: Any, kind: str, name: str) -> UpstreamFile | None:
    """One entry of an images answer: base64 bytes (bare or as a data URL) or a link."""
    if not isinstance(item, dict):
        return None
    encoded = item.get("b64_json")
    if isinstance(encoded, str) and encoded:
        if encoded.startswith("data:"):
            return UpstreamFile(kind, url=encoded)
        return UpstreamFile(kind, data=b64_bytes(encoded, f"{name} sent an unreadable image"))
    url = item.get("url")
    return UpstreamFile(kind, url=url) if isinstance(url, str) and url else None


class XAI(JobApi):
    default_base_url = "https://api.x.ai/v1"
    table_path = Path(__file__).with_name("xai_models.yaml")

    def pick(self, data: Any) -> str | None:
        return xai_message(data)

    async def start(self, task: TaskInput, ctx: Context) -> Started | Finished:
        mapping, route = self.table.route_for(task, self.deployment.name)
        body = mapping.body(route, ctx)
        if "model" in body:
            body["model"] = self.deployment.model_map.get(body["model"], body["model"])
        answer = errors.json_object(await self.call("POST", route.app, json=body), self.deployment.name)
        if route.app.startswith("/images/"):
            kind = next(iter(mapping.outputs.values()), "images")
            data = answer.get("data")
            items: list[Any] = data if isinstance(data, list) else []
            files = [f for f in (image_file(i, kind, self.deployment.name) for i in items) if f is not None]
            if not files:
                raise errors.UpstreamError(f"{self.deployment.name} returned no image")
            return Finished(files)
        request_id = answer.get("request_id")
        if not isinstance(request_id, str) or not request_id:
            raise errors.UpstreamError(f"{self.deployment.name} answered without a request_id")
        return Started({"request_id": request_id}, poll_in=self.poll_in())

    async def check(self, task: TaskInput, handle: dict[str, Any]) -> Running | Finished:
        answer = await self.poll(f"/videos/{handle['request_id']}")
        if isinstance(answer, Running):
            return answer
        status = answer.get("status")
        if status == "pending":
            return Running(poll_in=self.poll_in())
        if status in FAILED:
            reason = xai_message(answer) or status
            raise errors.UpstreamError(f"{self.deployment.name} did not finish the video: {reason}", job_failed=True)
        if status != "done":
            raise errors.UpstreamError(f"{self.deployment.name} answered an unknown status {status!r}")
        video = object_at(answer, "video")
        if video.get("respect_moderation") is False:  # made, then withheld by xAI's moderation: final
            raise errors.UpstreamError("The video was blocked by xAI's content moderation", retryable=False)
        url = video.get("url")
        if not isinstance(url, str) or not url:
            raise errors.UpstreamError(f"{self.deployment.name} returned no video", job_failed=True)
        kind = next(iter(self.mapping(task).outputs.values()), "videos")
        return Finished([UpstreamFile(kind, url=url)])
