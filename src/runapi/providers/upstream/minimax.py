"""MiniMax's own video API (https://api.minimax.io/v1; platform.minimax.io/docs/api-reference), `Authorization:
Bearer <api key>`:
  POST /video_generation {model, prompt, first_frame_image, last_frame_image, duration, resolution, ...}
       → {task_id, base_resp: {status_code, status_msg}}
  GET  /query/video_generation?task_id=  → {task_id, status Preparing|Queueing|Processing|Success|Fail, file_id}
  GET  /files/retrieve?file_id=          → {file: {download_url, ...}}
Which MiniMax model serves each of our Hailuo (action, model), and the body, is data (minimax_models.yaml).

MiniMax answers HTTP 200 with its verdict in base_resp.status_code (error codes reference): 0 success; 1002 and
1039 rate limits; 1004 / 2049 authentication; 1008 insufficient balance; 1026 / 1027 sensitive input / output
(content policy, final); 2013 invalid parameters (final); 1000 / 1001 / 1013 server-side failures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..base import TaskInput
from . import errors
from .adapter import Finished, Running, Started, UpstreamFile
from .jobs import JobApi, object_at
from .mapping import Context

RUNNING = ("Preparing", "Queueing", "Processing")
FINAL_CODES = frozenset({1026, 1027, 2013})  # content policy and invalid parameters: no use trying elsewhere
RATE_CODES = frozenset({1002, 1039})


def minimax_message(data: Any) -> str | None:
    resp = object_at(data, "base_resp") if isinstance(data, dict) else {}
    if resp.get("status_msg"):
        return f"{resp['status_msg']} (status_code {resp.get('status_code')})"
    return errors.first_message(data)


def base_resp_error(data: dict[str, Any], name: str) -> errors.UpstreamError | None:
    """MiniMax's verdict in base_resp, classified: None when it says success."""
    code = object_at(data, "base_resp").get("status_code")
    if code in (None, 0):
        return None
    message = minimax_message(data) or f"status_code {code}"
    if code in FINAL_CODES:
        return errors.UpstreamError(message, 400, retryable=False)
    return errors.UpstreamError(f"{name} refused: {message}", 429 if code in RATE_CODES else None)


class MiniMax(JobApi):
    default_base_url = "https://api.minimax.io/v1"
    table_path = Path(__file__).with_name("minimax_models.yaml")

    def pick(self, data: Any) -> str | None:
        return minimax_message(data)

    async def _json(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        answer = errors.json_object(await self.call(method, path, **kw), self.deployment.name)
        refused = base_resp_error(answer, self.deployment.name)
        if refused is not None:
            raise refused
        return answer

    async def start(self, task: TaskInput, ctx: Context) -> Started:
        mapping, route = self.table.route_for(task, self.deployment.name)
        body = {"model": self.deployment.model_map.get(route.app, route.app), **mapping.body(route, ctx)}
        # no callback_url even with `webhooks`: MiniMax first checks the URL by a challenge it must echo, which
        # our wake-up endpoint does not answer, so polling alone follows the job
        answer = await self._json("POST", "/video_generation", json=body)
        task_id = answer.get("task_id")
        if not isinstance(task_id, (str, int)) or not str(task_id):
            raise errors.UpstreamError(f"{self.deployment.name} answered without a task_id")
        return Started({"task_id": str(task_id)}, poll_in=self.poll_in())

    async def check(self, task: TaskInput, handle: dict[str, Any]) -> Running | Finished:
        answer = await self.poll("/query/video_generation", params={"task_id": handle["task_id"]})
        if isinstance(answer, Running):
            return answer
        status = answer.get("status")
        if status in RUNNING:
            return Running(poll_in=self.poll_in())
        if status == "Fail":
            refused = base_resp_error(answer, self.deployment.name)
            if refused is not None and not refused.retryable:  # its review refused the content: final
                raise refused
            reason = str(refused) if refused is not None else "no reason given"
            raise errors.UpstreamError(f"{self.deployment.name} failed the task: {reason}", job_failed=True)
        if status != "Success":
            refused = base_resp_error(answer, self.deployment.name)
            raise refused or errors.UpstreamError(f"{self.deployment.name} answered an unknown status {status!r}")
        file_id = answer.get("file_id")
        if file_id in (None, ""):
            raise errors.UpstreamError(f"{self.deployment.name} succeeded without a file_id", job_failed=True)
        found = await self._json("GET", "/files/retrieve", params={"file_id": str(file_id)}, job_failed=True)
        url = object_at(found, "file").get("download_url")
        if not isinstance(url, str) or not url:
            raise errors.UpstreamError(f"{self.deployment.name} returned no download_url", job_failed=True)
        kind = next(iter(self.mapping(task).outputs.values()), "videos")
        return Finished([UpstreamFile(kind, url=url)])
