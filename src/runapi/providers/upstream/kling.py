"""Kling's own API (https://api-singapore.klingai.com; app.klingai.com/global/dev/document-api).

Auth: `Authorization: Bearer <JWT>`, a token signed HS256 with the secret key, payload {iss: access key,
exp: now+1800, nbf: now-5}. The deployment's `api_key` holds "access_key:secret_key"; a key without a colon is
sent as the bearer token itself (Kling's newer static API keys). Tokens are reused until a minute before expiry.

Jobs: `POST /v1/videos/{text2video|image2video|omni-video|motion-control|avatar/image2video}` →
{code, message, request_id, data: {task_id, task_status}}; `GET <same path>/{task_id}` → data.task_status
submitted | processing | succeed | failed, data.task_status_msg, data.task_result.videos[{id, url, duration}].
Which endpoint and model serve each of our (action, model), and the body, is data (kling_models.yaml).

Errors carry a service code beside the HTTP status (commonInfo, "Error Code"): 1000-1004 auth (401),
1100-1102 account/balance (429), 1103 no access to the model (403), 1200-1203 bad parameters (400/404),
1300/1301 platform / content policy (400), 1302-1304 rate, concurrency and IP limits (429), 5000-5002 server
(5xx). The HTTP status decides (errors.from_response); a non-zero code on HTTP 200 is read the same way."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..base import TaskInput
from . import errors
from .adapter import Finished, Running, Started
from .jobs import JobApi, object_at, policy_words
from .mapping import Context
from .outputs import result_files

TOKEN_SECONDS = 1800  # Kling's documented example lifetime
TOKEN_SLACK = 60  # a fresh token a minute before the old one expires
RUNNING = ("submitted", "processing")
# service codes that judge the request itself (bad parameters, platform or content policy): no retry elsewhere
FINAL_CODES = frozenset({1200, 1201, 1300, 1301})


def kling_message(data: Any) -> str | None:
    """{code, message}: the message with its service code (the code says what kind of refusal it is)."""
    if isinstance(data, dict) and data.get("message"):
        code = data.get("code")
        return f"{data['message']} (code {code})" if code not in (None, 0) else str(data["message"])
    return errors.first_message(data)


def body_code_error(data: dict[str, Any], name: str) -> errors.UpstreamError | None:
    """A business error Kling reported inside an HTTP 200 answer, classified like its HTTP status would be."""
    code = data.get("code")
    if code in (None, 0, 200):
        return None
    message = kling_message(data) or f"code {code}"
    if isinstance(code, int) and code in FINAL_CODES:
        return errors.UpstreamError(message, 400, retryable=False)
    limited = isinstance(code, int) and (1100 <= code <= 1102 or 1302 <= code <= 1304)
    status = 429 if limited else None  # account, balance and rate limits: cool this deployment down
    return errors.UpstreamError(f"{name} refused: {message}", status)


class Kling(JobApi):
    default_base_url = "https://api-singapore.klingai.com"
    table_path = Path(__file__).with_name("kling_models.yaml")
    _token: tuple[float, str] | None = None

    def _bearer(self) -> str | None:
        key = self.deployment.api_key
        if not key:
            return None
        access, sep, secret = key.partition(":")
        if not sep:
            return key
        now = time.time()
        if self._token is None or self._token[0] - TOKEN_SLACK <= now:
            import jwt  # PyJWT pulls in cryptography (~25 ms, a few MB): only for Kling's signed keys

            expires = int(now) + TOKEN_SECONDS
            token = jwt.encode(
                {"iss": access, "exp": expires, "nbf": int(now) - 5},
                secret,
                algorithm="HS256",
                headers={"alg": "HS256", "typ": "JWT"},
            )
            self._token = (float(expires), token)
        return self._token[1]

    def pick(self, data: Any) -> str | None:
        return kling_message(data)

    def _headers(self) -> dict[str, str]:
        token = self._bearer()
        return {"Authorization": f"Bearer {token}"} if token else {}

    async def start(self, task: TaskInput, ctx: Context) -> Started:
        mapping, route = self.table.route_for(task, self.deployment.name)
        body = mapping.body(route, ctx)
        if "model_name" in body:
            body["model_name"] = self.deployment.model_map.get(body["model_name"], body["model_name"])
        if self.deployment.webhooks and ctx.webhook_url:
            body["callback_url"] = ctx.webhook_url  # Kling POSTs the task on every status change
        answer = errors.json_object(await self.call("POST", route.app, json=body), self.deployment.name)
        refused = body_code_error(answer, self.deployment.name)
        if refused is not None:
            raise refused
        data = object_at(answer, "data")
        task_id = data.get("task_id")
        if not isinstance(task_id, (str, int)) or not str(task_id):
            raise errors.UpstreamError(f"{self.deployment.name} answered without a task_id")
        return Started({"path": route.app, "task_id": str(task_id)}, poll_in=self.poll_in())

    async def check(self, task: TaskInput, handle: dict[str, Any]) -> Running | Finished:
        answer = await self.poll(f"{handle['path']}/{handle['task_id']}")
        if isinstance(answer, Running):
            return answer
        refused = body_code_error(answer, self.deployment.name)
        if refused is not None:
            raise refused
        data = object_at(answer, "data")
        status = data.get("task_status")
        if status in RUNNING:
            return Running(poll_in=self.poll_in())
        if status == "failed":
            message = str(data.get("task_status_msg") or "Kling failed the task")
            if policy_words(message):  # its content review refused the request: final
                raise errors.UpstreamError(message, retryable=False)
            raise errors.UpstreamError(f"{self.deployment.name} failed the task: {message}", job_failed=True)
        if status != "succeed":
            raise errors.UpstreamError(f"{self.deployment.name} answered an unknown task_status {status!r}")
        files = result_files(data.get("task_result") or {}, self.mapping(task).outputs, {})
        if not files:
            raise errors.UpstreamError(f"{self.deployment.name} returned no video", job_failed=True)
        return Finished(files)
