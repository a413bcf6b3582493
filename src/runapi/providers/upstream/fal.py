"""fal.ai's queue API: submit `POST {base}/{app_id}` → request_id; status `GET .../requests/{id}/status`
(IN_QUEUE with queue_position, IN_PROGRESS, COMPLETED); result `GET .../requests/{id}`; cancel
`PUT .../requests/{id}/cancel`; `Authorization: Key <key>`.

Which fal app runs which of our (action, model), and how our parameters become its input, is data
(fal_models.yaml, read by mapping.py). Errors: model errors are `{"detail": [{"msg", "type"}]}` (422, e.g.
content_policy_violation, kept as the task's error), infrastructure errors `{"detail", "error_type"}` (5xx;
fal has already retried them, so the job goes to the next deployment)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from ..base import TaskInput
from . import errors
from .adapter import Finished, Running, Started, TableAdapter
from .http_call import call, or_running, same_origin
from .mapping import Context, Table
from .outputs import result_files

TABLE_PATH = Path(__file__).with_name("fal_models.yaml")


def fal_table() -> Table:
    return Table.bundled(TABLE_PATH)


class FalQueue(TableAdapter):
    default_base_url = "https://queue.fal.run"
    table_path = TABLE_PATH

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Key {self.deployment.api_key}"} if self.deployment.api_key else {}

    def _request_urls(self, app: str, request_id: str, answer: dict[str, Any]) -> dict[str, str]:
        # Status, result and cancel live under owner/app only, without the endpoint path (fal docs).
        root = f"{self.deployment.base_url}/{'/'.join(app.split('/')[:2])}/requests/{request_id}"
        built = {"response_url": root, "status_url": f"{root}/status", "cancel_url": f"{root}/cancel"}
        # follow-up URLs from the submit answer are used only on the configured host: our key goes nowhere else
        base = self.deployment.base_url
        return {k: answer[k] if same_origin(base, answer.get(k)) else v for k, v in built.items()}

    async def _call(self, method: str, url: str, job_failed: bool = False, **kw: Any) -> httpx.Response:
        return await call(self.http, self.deployment, method, url, headers=self._headers(), job_failed=job_failed, **kw)

    async def start(self, task: TaskInput, ctx: Context) -> Started:
        mapping, route = self.table.route_for(task, self.deployment.name)
        app = self.deployment.model_map.get(route.app, route.app)
        webhook = {"fal_webhook": ctx.webhook_url} if self.deployment.webhooks and ctx.webhook_url else {}
        resp = await self._call(
            "POST", f"{self.deployment.base_url}/{app}", json=mapping.body(route, ctx), params=webhook
        )
        answer = errors.json_object(resp, self.deployment.name)
        request_id = answer.get("request_id")
        if not isinstance(request_id, str) or not request_id:
            raise errors.UpstreamError(f"{self.deployment.name} answered without a request_id")
        handle = {
            "app": app,
            "request_id": request_id,
            **self._request_urls(app, request_id, answer),
            "meta": mapping.item_meta(ctx),
        }
        return Started(handle, poll_in=self.deployment.poll_seconds or 2.0)

    async def check(self, task: TaskInput, handle: dict[str, Any]) -> Running | Finished:
        resp = await or_running(self._call("GET", handle["status_url"]), 5.0)
        if isinstance(resp, Running):
            return resp
        status = errors.json_object(resp, self.deployment.name).get("status")
        if status in ("IN_QUEUE", "IN_PROGRESS"):
            return Running(poll_in=self.deployment.poll_seconds)
        if status == "CANCELED" or status == "CANCELLED":
            raise errors.UpstreamError(f"{self.deployment.name} cancelled the request", retryable=False)
        if status != "COMPLETED" and status != "FAILED":
            raise errors.UpstreamError(f"{self.deployment.name} answered an unknown status {status!r}")
        # COMPLETED covers failures too: the result request answers with the error and its status code.
        result = errors.json_object(
            await self._call("GET", handle["response_url"], job_failed=True), self.deployment.name
        )
        model = task.model.id if task.model else ""
        mapping = self.table.get(task.action.key, model)
        if mapping is None:
            raise errors.UpstreamError(f"no fal mapping for {task.action.key}/{model}", retryable=False)
        files = result_files(result, mapping.outputs, handle.get("meta") or {})
        extra = {
            ours: result[theirs]
            for ours, theirs in mapping.extra.items()
            if isinstance(result, dict) and theirs in result
        }
        if not files and not extra:
            raise errors.UpstreamError(f"{self.deployment.name} returned no result", job_failed=True)
        return Finished(files, extra)

    async def cancel(self, handle: dict[str, Any]) -> None:
        try:
            await self._call("PUT", handle["cancel_url"])
        except errors.UpstreamError:
            pass  # already finished or gone: nothing left to stop
