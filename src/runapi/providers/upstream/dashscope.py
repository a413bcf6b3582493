"""Alibaba Cloud Model Studio (DashScope): Wan video and image, Qwen-Image and Z-Image models.

Protocol (Model Studio API references, alibabacloud.com/help/en/model-studio/: text-to-video-api-reference,
image-to-video-api-reference, wan2.7 image generation, qwen-image-api, qwen-image-edit-api, z-image-api-reference;
task management: manage-asynchronous-tasks; errors: error-code), `Authorization: Bearer <key>`:
- async services answer `{output: {task_id, task_status}, request_id}` to a POST sent with
  `X-DashScope-Async: enable`; `GET /tasks/{task_id}` answers task_status PENDING/RUNNING/SUCCEEDED/FAILED/
  CANCELED/UNKNOWN with output.video_url, output.results[].url or output.choices[].message.content[].image,
  or output.{code, message} on failure; `POST /tasks/{task_id}/cancel` cancels a queued task;
- the multimodal-generation service (Qwen-Image-Edit, Z-Image) answers synchronously with output.choices;
- errors are `{code, message, request_id}`: InvalidApiKey 401, InvalidParameter 400, DataInspectionFailed
  (a content-policy refusal), Throttling* 429, InternalError 500.

Which model runs which of our (action, model), and how our parameters become its body, is data
(dashscope_models.yaml: route app = "<service>/<model>"); a deployment's model_map renames the Model Studio
model, e.g. {"wan2.7-t2v": "wan2.7-t2v-2026-04-25"} to pin a dated snapshot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from ..base import TaskInput
from . import errors
from .adapter import Finished, Running, Started, TableAdapter
from .http_call import bearer, or_running, raise_for_status, send
from .mapping import Context, Mapping, Table
from .outputs import result_files

TABLE_PATH = Path(__file__).with_name("dashscope_models.yaml")

# service name in a route's app → (endpoint path under the base URL, answered as an async task)
SERVICES: dict[str, tuple[str, bool]] = {
    "video": ("services/aigc/video-generation/video-synthesis", True),
    "i2v": ("services/aigc/image2video/video-synthesis", True),
    "t2i": ("services/aigc/text2image/image-synthesis", True),
    "image": ("services/aigc/image-generation/generation", True),
    "mm": ("services/aigc/multimodal-generation/generation", False),
}
RUNNING = frozenset({"PENDING", "RUNNING"})
# a task refused for its content (DataInspectionFailed, IPInfringementSuspect…) or its input is the
# provider's verdict on the request: another deployment would answer the same
VERDICT_CODES = ("DataInspectionFailed", "IPInfringementSuspect", "InvalidParameter")


def dashscope_table() -> Table:
    return Table.bundled(TABLE_PATH)


def output_of(answer: dict[str, Any]) -> dict[str, Any]:
    output = answer.get("output")
    return output if isinstance(output, dict) else {}


def error_message(data: Any) -> str | None:
    """`{code, message}` at the top (a refused call) or under output (a failed task)."""
    if not isinstance(data, dict):
        return None
    inner = output_of(data) or data
    message, code = inner.get("message"), inner.get("code")
    return str(message or code) if (message or code) else None


def lacks_model(resp: httpx.Response) -> bool:
    """A model this deployment's region does not offer ("Model not exist."): another deployment may."""
    return resp.status_code == 400 and "model not exist" in errors.body_message(resp, error_message).lower()


def is_verdict(code: Any) -> bool:
    return isinstance(code, str) and code.startswith(VERDICT_CODES)


def result_of(output: dict[str, Any]) -> dict[str, Any]:
    """A task's or a synchronous answer's output, with the images of a messages-format answer
    (output.choices[].message.content[].image) gathered under `images` and the video of an image2video
    task (output.results.video_url) under `video_url`."""
    results = output.get("results")
    if isinstance(results, dict) and "video_url" in results:
        output = {**output, "video_url": results["video_url"]}
    images = [
        part["image"]
        for choice in output.get("choices") or []
        if isinstance(choice, dict)
        for part in ((choice.get("message") or {}).get("content") or [])
        if isinstance(part, dict) and isinstance(part.get("image"), str)
    ]
    return {**output, "images": images} if images else output


class DashScope(TableAdapter):
    default_base_url = "https://dashscope-intl.aliyuncs.com/api/v1"
    table_path = TABLE_PATH

    def _headers(self, asynchronous: bool = False) -> dict[str, str]:
        headers = bearer(self.deployment.api_key)
        if asynchronous:
            headers["X-DashScope-Async"] = "enable"
        return headers

    async def _call(self, method: str, path: str, asynchronous: bool = False, **kw: Any) -> httpx.Response:
        """One call to the configured base URL only (our key goes nowhere else)."""
        name, url = self.deployment.name, f"{self.deployment.base_url}/{path}"
        resp = await send(self.http, self.deployment, method, url, headers=self._headers(asynchronous), **kw)
        if lacks_model(resp):
            raise errors.UpstreamError(f"{name} does not offer this model here", resp.status_code)
        return raise_for_status(resp, name, error_message)

    async def start(self, task: TaskInput, ctx: Context) -> Started | Finished:
        mapping, route = self.table.route_for(task, self.deployment.name)
        service, _, model = route.app.partition("/")
        path, asynchronous = SERVICES[service]
        body = {"model": self.deployment.model_map.get(model, model), **mapping.body(route, ctx)}
        answer = errors.json_object(
            await self._call("POST", path, asynchronous=asynchronous, json=body), self.deployment.name
        )
        meta = mapping.item_meta(ctx)
        output = output_of(answer)
        if not asynchronous:
            return self._finished(mapping, result_of(output), meta)
        task_id = output.get("task_id")
        if not isinstance(task_id, str) or not task_id:
            raise errors.UpstreamError(f"{self.deployment.name} answered without a task_id")
        handle = {"task_id": task_id, "model": body["model"], "request_id": answer.get("request_id"), "meta": meta}
        return Started(handle, poll_in=self._poll_in())

    def _poll_in(self) -> float:
        return self.deployment.poll_seconds or 5.0

    async def check(self, task: TaskInput, handle: dict[str, Any]) -> Running | Finished:
        resp = await or_running(self._call("GET", f"tasks/{handle['task_id']}"), 5.0)
        if isinstance(resp, Running):
            return resp
        answer = errors.json_object(resp, self.deployment.name)
        output = output_of(answer)
        status = output.get("task_status")
        if status in RUNNING:  # no fixed interval configured: the worker's growing backoff
            return Running(poll_in=self.deployment.poll_seconds)
        name = self.deployment.name
        if status == "SUCCEEDED":
            model = task.model.id if task.model else ""
            mapping = self.table.get(task.action.key, model)
            if mapping is None:
                raise errors.UpstreamError(f"no dashscope mapping for {task.action.key}/{model}", retryable=False)
            return self._finished(mapping, result_of(output), handle.get("meta") or {})
        if status == "FAILED":
            message = error_message(answer) or "the task failed"
            if is_verdict(output.get("code")):  # content policy or input refused: the task's own error
                raise errors.UpstreamError(message, retryable=False)
            raise errors.UpstreamError(f"{name} failed the task: {message}", job_failed=True)
        if status == "CANCELED":
            raise errors.UpstreamError(f"{name} cancelled the task", retryable=False)
        if status == "UNKNOWN":  # expired (24 h) or never known there: submit it again elsewhere
            raise errors.UpstreamError(f"{name} no longer knows the task", job_failed=True)
        raise errors.UpstreamError(f"{name} answered an unknown task_status {status!r}")

    def _finished(self, mapping: Mapping, result: dict[str, Any], meta: dict[str, Any]) -> Finished:
        files = result_files(result, mapping.outputs, meta)
        if not files:
            raise errors.UpstreamError(f"{self.deployment.name} returned no result", job_failed=True)
        return Finished(files)

    async def cancel(self, handle: dict[str, Any]) -> None:
        try:
            await self._call("POST", f"tasks/{handle['task_id']}/cancel")
        except errors.UpstreamError:
            pass  # only queued tasks can be cancelled; a running or finished one is left to end
