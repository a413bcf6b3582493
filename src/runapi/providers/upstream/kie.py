"""kie.ai, an aggregator of media models, `Authorization: Bearer <key>`. Two kinds of API, one envelope:

  Market       POST /api/v1/jobs/createTask {model, input, callBackUrl} → data.taskId;
               GET /api/v1/jobs/recordInfo?taskId= → data.state waiting|queuing|generating|success|fail,
               data.resultJson (a JSON string: {"resultUrls": [...]}), data.failCode / data.failMsg
  model APIs   POST /api/v1/runway/generate | /api/v1/runway/extend → GET /api/v1/runway/record-detail
               (state wait|queueing|generating|success|fail, videoInfo.videoUrl);
               POST /api/v1/aleph/generate → GET /api/v1/aleph/record-info (successFlag 1 done, 0 running
               or, with errorMessage, failed; response.resultVideoUrl);
               POST /api/v1/modify/generate (Luma) | /api/v1/veo/generate | /api/v1/veo/extend → GET their
               record-info (successFlag 0 generating, 1 done, 2/3 failed, 4 done but kie's callback failed;
               response.resultUrls); GET /api/v1/veo/get-1080p-video?taskId=&index= (data.resultUrl once made)

Every answer is `{code, msg, data}`; code 200 is success (sources: docs.kie.ai/market/common/get-task-detail,
docs.kie.ai/runway-api/*, docs.kie.ai/luma-api/*, docs.kie.ai/veo3-api/*; their OpenAPI as published with
the docs). What runs where is data (kie_models.yaml, read by mapping.py): a route's `app` is a Market model
id, or the path of a model API (starting with /api/v1/). A task that continues something kie made (Runway and
Veo extend, Veo 1080p, Grok upscale, Grok image to video from a Grok image) needs kie's own taskId: the router
records it in the source task's job, and this adapter offers it to the table as the parameter
`upstream:<param>` when that task ran on this same deployment (kie task ids are per account).

Errors: kie's envelope code (or the HTTP status) decides: 401/402/404/433/455/505 and 5xx move to the next
deployment, 429 cools this one down, 400/422/451 are the request's fault. A job kie accepted and then failed
goes to the next deployment, unless its message is a moderation refusal (then the task fails with it)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

from ..base import TaskInput
from . import errors
from .adapter import Finished, Running, Started, TableAdapter
from .http_call import bearer, send
from .mapping import Context, Mapping, Route, Table
from .outputs import result_files

TABLE_PATH = Path(__file__).with_name("kie_models.yaml")
MARKET_SUBMIT = "/api/v1/jobs/createTask"
MARKET_POLL = "/api/v1/jobs/recordInfo"
DEFAULT_POLL_SECONDS = 5.0  # kie asks for 2-5 s between polls (10 queries/s per key at most)
HD_POLL_SECONDS = 20.0  # a 1080p Veo version takes 1-3 minutes; kie asks to retry every 20-30 s

# Envelope codes that say "this deployment cannot take it now" (bad key, no credits, a sub-key over its limit
# (433), unknown model here, maintenance, feature switched off) rather than "the request is wrong": the next
# deployment is tried.
DEPLOYMENT_CODES = frozenset({401, 402, 403, 404, 408, 409, 425, 433, 455, 505})
# Words kie's failure messages use for a moderation refusal: the same request fails anywhere.
POLICY = re.compile(
    r"nsfw|moderat|content polic|inappropriate|prohibited|sensitive|safety|flagged|violat|not allowed|harmful",
    re.IGNORECASE,
)


def kie_table() -> Table:
    return Table.bundled(TABLE_PATH)


@dataclass(frozen=True)
class Reading:
    """A poll answer in one shape: state running | success | fail, the result object the table's `outputs`
    name fields of, and kie's failure message and code."""

    state: str
    result: dict[str, Any]
    message: str = ""
    code: str = ""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def read_market(data: dict[str, Any]) -> Reading:
    state = data.get("state")
    if state in ("waiting", "queuing", "generating"):
        return Reading("running", {})
    if state == "success":
        raw = data.get("resultJson")
        try:
            result = json.loads(raw) if isinstance(raw, str) and raw else _dict(raw)
        except ValueError:
            result = {}
        return Reading("success", _dict(result))
    if state == "fail":
        return Reading("fail", {}, str(data.get("failMsg") or ""), str(data.get("failCode") or ""))
    return Reading("unknown", {}, f"unknown state {state!r}")


def read_runway(data: dict[str, Any]) -> Reading:
    state = data.get("state")
    if state in ("wait", "queueing", "generating"):
        return Reading("running", {})
    if state == "success":
        return Reading("success", _dict(data.get("videoInfo")))
    if state == "fail":
        return Reading("fail", {}, str(data.get("failMsg") or ""), str(data.get("failCode") or ""))
    return Reading("unknown", {}, f"unknown state {state!r}")


def read_flag(data: dict[str, Any]) -> Reading:
    """Luma modify and Veo: successFlag 0 generating, 1 success, 2 creation failed, 3 generation failed,
    4 made but kie's own callback failed (the video exists)."""
    flag = data.get("successFlag")
    message, code = str(data.get("errorMessage") or ""), str(data.get("errorCode") or "")
    if flag in (1, 4):
        return Reading("success", _dict(data.get("response")))
    if flag in (2, 3):
        return Reading("fail", {}, message, code)
    if flag == 0:
        return Reading("running", {})
    return Reading("unknown", {}, f"unknown successFlag {flag!r}")


def read_aleph(data: dict[str, Any]) -> Reading:
    """Aleph: successFlag 1 success; 0 still running, unless an errorMessage says it failed."""
    flag = data.get("successFlag")
    if flag == 0 and data.get("errorMessage"):
        return Reading("fail", {}, str(data["errorMessage"]), str(data.get("errorCode") or ""))
    return read_flag(data)


def read_1080p(data: dict[str, Any]) -> Reading:
    url = data.get("resultUrl")
    return Reading("success", {"resultUrl": url}) if isinstance(url, str) and url else Reading("running", {})


@dataclass(frozen=True)
class Api:
    poll: str  # GET path, ?taskId=
    read: Callable[[dict[str, Any]], Reading]
    submit_method: str = "POST"


MARKET = Api(MARKET_POLL, read_market)
MODEL_APIS: dict[str, Api] = {
    "/api/v1/runway/generate": Api("/api/v1/runway/record-detail", read_runway),
    "/api/v1/runway/extend": Api("/api/v1/runway/record-detail", read_runway),
    "/api/v1/aleph/generate": Api("/api/v1/aleph/record-info", read_aleph),
    "/api/v1/modify/generate": Api("/api/v1/modify/record-info", read_flag),
    "/api/v1/veo/generate": Api("/api/v1/veo/record-info", read_flag),
    "/api/v1/veo/extend": Api("/api/v1/veo/record-info", read_flag),
    # no job of its own: asking again for the 1080p version of a finished Veo video is the poll
    "/api/v1/veo/get-1080p-video": Api("/api/v1/veo/get-1080p-video", read_1080p, submit_method="GET"),
}


def api_for(app: str) -> Api:
    if not app.startswith("/"):
        return MARKET
    found = MODEL_APIS.get(app)
    if found is None:
        raise errors.UpstreamError(f"kie has no API at {app}", retryable=False)
    return found


def envelope_error(code: int, message: str, name: str, retry_after: float | None = None) -> errors.UpstreamError:
    """kie's envelope code (or HTTP status) as an UpstreamError: 429 cools the deployment down; auth, credits,
    unknown model, maintenance and 5xx move on to the next deployment; 422/400/451 are the request's fault."""
    if code == 429:
        return errors.UpstreamError(f"{name} answered {code}: {message}", 429, True, retry_after)
    if code in DEPLOYMENT_CODES or code >= 500:
        return errors.UpstreamError(f"{name} answered {code}: {message}", code, True, retry_after)
    return errors.UpstreamError(message or f"{name} refused the request ({code})", code, retryable=False)


def read_envelope(resp: httpx.Response, name: str) -> dict[str, Any]:
    """The `data` of a successful answer; an UpstreamError for kie's error codes (in the body or the HTTP
    status, whichever says it failed)."""
    try:
        body = resp.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        if resp.status_code >= 400:
            raise errors.from_response(resp, name, errors.first_message)
        raise errors.UpstreamError(f"{name} answered with unexpected JSON")
    code = body.get("code")
    if not isinstance(code, int) or isinstance(code, bool):
        code = resp.status_code if resp.status_code >= 400 else 200
    if code == 200 and resp.status_code >= 400:
        code = resp.status_code
    if code != 200:
        message = str(body.get("msg") or body.get("message") or errors.first_message(body) or "")
        raise envelope_error(code, message, name, errors.retry_after(resp))
    return _dict(body.get("data"))


def failure(reading: Reading, name: str) -> errors.UpstreamError:
    """A job kie accepted and then failed: a moderation refusal (or kie's verdict that the request was
    invalid) fails the task with kie's message; anything else goes to the next deployment."""
    message = reading.message or f"{name} failed the job"
    if POLICY.search(message) or reading.code == "422":
        return errors.UpstreamError(message, retryable=False)
    return errors.UpstreamError(f"{name} failed the job: {message}", job_failed=True)


class KieAI(TableAdapter):
    default_base_url = "https://api.kie.ai"
    table_path = TABLE_PATH

    # --- the adapter -----------------------------------------------------------------------------------

    def upstream_params(self, task: TaskInput) -> dict[str, Any]:
        """The task's parameters plus `upstream:<param>`: kie's taskId of each referenced task that ran on this
        deployment (another kie account or upstream has no such task)."""
        params = dict(task.params)
        for name, row in task.refs.items():
            job = row.provider_job or {}
            handle = _dict(job.get("handle"))
            if job.get("deployment") == self.deployment.name and isinstance(handle.get("taskId"), str):
                params[f"upstream:{name}"] = handle["taskId"]
        return params

    def route_for(self, task: TaskInput, params: dict[str, Any]) -> tuple[Mapping, Route]:
        return self.table.route_for(replace(task, params=params), self.deployment.name)

    def request(self, route: Route, mapping: Mapping, ctx: Context) -> tuple[str, str, dict[str, Any]]:
        """(method, path, body or query) for the route's call."""
        built = mapping.body(route, ctx)
        callback = {"callBackUrl": ctx.webhook_url} if ctx.webhook_url else {}
        if not route.app.startswith("/"):
            model = self.deployment.model_map.get(route.app, route.app)
            return "POST", MARKET_SUBMIT, {"model": model, "input": built, **callback}
        api = api_for(route.app)
        if api.submit_method == "GET":
            return "GET", route.app, built
        return "POST", route.app, {**built, **callback}

    async def start(self, task: TaskInput, ctx: Context) -> Started:
        params = self.upstream_params(task)
        mapping, route = self.route_for(task, params)
        ctx = replace(ctx, params=params)
        method, path, body = self.request(route, mapping, ctx)
        handle: dict[str, Any] = {"app": route.app, "meta": mapping.item_meta(ctx)}
        if method == "GET":  # nothing to submit: the poll asks for the result itself
            handle.update(taskId=str(body.get("taskId", "")), query=body)
            return Started(handle, poll_in=0.0)
        data = await self._call("POST", path, json=body)
        task_id = data.get("taskId")
        if not isinstance(task_id, str) or not task_id:
            raise errors.UpstreamError(f"{self.deployment.name} answered without a taskId")
        handle["taskId"] = task_id
        return Started(handle, poll_in=self.deployment.poll_seconds or DEFAULT_POLL_SECONDS)

    async def check(self, task: TaskInput, handle: dict[str, Any]) -> Running | Finished:
        api = api_for(str(handle.get("app", "")))
        query = handle.get("query") or {"taskId": handle.get("taskId", "")}
        try:
            data = await self._call("GET", api.poll, params=query)
        except errors.UpstreamError as exc:
            if exc.rate_limited:  # polling too fast is not a failure of the job
                return Running(poll_in=exc.retry_after or DEFAULT_POLL_SECONDS)
            if api.submit_method == "GET" and exc.status == 400:  # "1080P is processing ... check back"
                return Running(poll_in=self.deployment.poll_seconds or HD_POLL_SECONDS)
            if exc.status == 404:  # kie no longer knows the task: submit it elsewhere
                raise errors.UpstreamError(str(exc), 404, job_failed=True) from exc
            raise
        reading = api.read(data)
        if reading.state == "running":
            return Running(poll_in=self.deployment.poll_seconds)
        if reading.state == "fail":
            raise failure(reading, self.deployment.name)
        if reading.state != "success":
            raise errors.UpstreamError(f"{self.deployment.name} answered an {reading.message}")
        model = task.model.id if task.model else ""
        mapping = self.table.get(task.action.key, model)
        if mapping is None:
            raise errors.UpstreamError(f"no kie mapping for {task.action.key}/{model}", retryable=False)
        files = result_files(reading.result, mapping.outputs, _dict(handle.get("meta")))
        video_id = reading.result.get("videoId")  # Runway names its video: our documented item id
        for f in files:
            if f.kind == "videos" and isinstance(video_id, str) and video_id:
                f.meta.setdefault("id", video_id)
        if not files:
            raise errors.UpstreamError(f"{self.deployment.name} returned no result", job_failed=True)
        return Finished(files)

    async def cancel(self, handle: dict[str, Any]) -> None:
        return None  # kie offers no way to stop a task

    # --- transport -------------------------------------------------------------------------------------

    async def _call(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        url, headers = f"{self.deployment.base_url}{path}", bearer(self.deployment.api_key)
        resp = await send(self.http, self.deployment, method, url, headers=headers, **kw)
        return read_envelope(resp, self.deployment.name)  # kie's codes live in the body as well as the status
