"""BytePlus ModelArk (and Volcengine Ark, the same API at https://ark.cn-beijing.volces.com/api/v3: the deployment's
base_url decides), `Authorization: Bearer <key>`:
  Seedance video  POST /contents/generations/tasks {model, content: [parts], ratio, duration, ...} → {id};
                  GET /contents/generations/tasks/{id} → {status: queued|running|succeeded|failed|cancelled|
                  expired, content: {video_url, last_frame_url}, error: {code, message}}; DELETE cancels a
                  queued task.
  Seedream image  POST /images/generations {model, prompt, image, size, ...} → {data: [{url} | {error}]}, at once.
Errors are `{"error": {"code", "message"}}`: InvalidParameter (400) and the *SensitiveContentDetected codes
(content policy) are the request's fault and fail the task; AuthenticationError (401), RateLimitExceeded /
QuotaExceeded (429) and InternalServiceError (5xx) move it to the next deployment.

Sources (2026-12-06): docs.byteplus.com/en/docs/ModelArk/1520757 (create a video task), 1521309 (retrieve),
1521720 (cancel), 1541523 (image generation); field names from the official SDK volcengine/volcengine-python-sdk
(volcenginesdkarkruntime). Which model runs each of our (action, model), and the bodies, is data: ark_models.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from ..base import TaskInput
from . import errors
from .adapter import Finished, Running, Started, TableAdapter, UpstreamFile
from .http_call import bearer, call, or_running
from .mapping import Context, Table
from .outputs import result_files

TABLE_PATH = Path(__file__).with_name("ark_models.yaml")
DEFAULT_POLL_SECONDS = 5.0  # Seedance takes a minute or more; the docs suggest polling every few seconds
RUNNING = frozenset({"queued", "running"})


def ark_table() -> Table:
    return Table.bundled(TABLE_PATH)


def error_of(data: Any) -> tuple[str, str]:
    """(code, message) of a ModelArk error object, or of a body holding one under `error`."""
    err = data.get("error") if isinstance(data, dict) and "error" in data else data
    if not isinstance(err, dict):
        return "", ""
    return str(err.get("code") or ""), str(err.get("message") or "")


def is_policy(code: str) -> bool:
    """ModelArk's content-policy refusals: Input/Output{Text,Image,Video,Audio}SensitiveContentDetected[.*]."""
    return "SensitiveContentDetected" in code


def _message(data: Any) -> str | None:
    code, message = error_of(data)
    return f"{code}: {message}" if code and message else message or code or None


class ModelArk(TableAdapter):
    default_base_url = "https://ark.ap-southeast.bytepluses.com/api/v3"
    table_path = TABLE_PATH

    async def _call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        url = f"{self.deployment.base_url}{path}"
        headers = bearer(self.deployment.api_key)
        return await call(self.http, self.deployment, method, url, headers=headers, pick=_message, **kw)

    async def start(self, task: TaskInput, ctx: Context) -> Started | Finished:
        mapping, route = self.table.route_for(task, self.deployment.name)
        body = {"model": self.deployment.model_map.get(route.app, route.app), **mapping.body(route, ctx)}
        meta = mapping.item_meta(ctx)
        if task.action.result == "images":  # Seedream answers at once
            answer = errors.json_object(
                await self._call("POST", "/images/generations", json=body), self.deployment.name
            )
            return Finished(self._images(answer, mapping.outputs, meta))
        resp = await self._call("POST", "/contents/generations/tasks", json=body)
        task_id = errors.json_object(resp, self.deployment.name).get("id")
        if not isinstance(task_id, str) or not task_id:
            raise errors.UpstreamError(f"{self.deployment.name} answered without a task id")
        return Started({"task_id": task_id, "meta": meta}, poll_in=self.deployment.poll_seconds or DEFAULT_POLL_SECONDS)

    def _images(self, answer: dict[str, Any], outputs: dict[str, str], meta: dict[str, Any]) -> list[UpstreamFile]:
        files = result_files(answer, outputs, meta)
        if files:
            return files
        # every image refused: data[] holds {error: {code, message}} items (a content filter, an internal error)
        items = answer.get("data")
        for item in items if isinstance(items, list) else []:
            code, message = error_of(item)
            if code or message:
                raise errors.UpstreamError(f"{code}: {message}" if code else message, retryable=not is_policy(code))
        raise errors.UpstreamError(f"{self.deployment.name} returned no image")

    async def check(self, task: TaskInput, handle: dict[str, Any]) -> Running | Finished:
        path = f"/contents/generations/tasks/{quote(handle['task_id'], safe='')}"
        resp = await or_running(self._call("GET", path), DEFAULT_POLL_SECONDS)
        if isinstance(resp, Running):
            return resp
        answer = errors.json_object(resp, self.deployment.name)
        status = answer.get("status")
        if status in RUNNING:
            return Running(poll_in=self.deployment.poll_seconds)
        if status == "succeeded":
            return self._finished(task, answer, handle)
        code, message = error_of(answer)
        reason = f"{code}: {message}" if code else message or f"the task ended {status}"
        if status == "failed" and is_policy(code):
            raise errors.UpstreamError(reason, retryable=False)
        if status == "cancelled":
            raise errors.UpstreamError(f"{self.deployment.name} cancelled the task", retryable=False)
        if status in ("failed", "expired"):  # the job was lost on ModelArk's side: another deployment may run it
            raise errors.UpstreamError(f"{self.deployment.name}: {reason}", job_failed=True)
        raise errors.UpstreamError(f"{self.deployment.name} answered an unknown status {status!r}")

    def _finished(self, task: TaskInput, answer: dict[str, Any], handle: dict[str, Any]) -> Finished:
        mapping = self.table.get(task.action.key, task.model.id if task.model else "")
        if mapping is None:
            raise errors.UpstreamError(f"no ModelArk mapping for {task.action.key}", retryable=False)
        files = result_files(answer.get("content"), mapping.outputs, handle.get("meta") or {})
        if not files:
            raise errors.UpstreamError(f"{self.deployment.name} returned no video", job_failed=True)
        return Finished(files)

    async def cancel(self, handle: dict[str, Any]) -> None:
        try:
            await self._call("DELETE", f"/contents/generations/tasks/{quote(handle['task_id'], safe='')}")
        except errors.UpstreamError:
            pass  # running or already finished: ModelArk cancels queued tasks only
