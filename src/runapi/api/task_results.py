"""The Task Result resource: GET /api/v1/task_results/<id>, the opaque Location a hybrid create answers 202 with
(the platform SDKs' TaskResult: {id, status, error?, response?}). It is account-scoped like every task read (a
task of another account is not found). Once the task is terminal, `response` is the public answer the
synchronous call would have given, {status, content_type, headers, body}: rendered by `public_answer` from the
stored task, the same function the synchronous answer uses, so the two cannot differ."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from ..catalog import get_catalog
from ..domain.task import Task, TaskState
from ..errors import task_not_found
from ..tasks import engine
from ..tasks.views import result_only, retry_after_seconds, status_body
from .context import authenticated, base_url, runtime
from .media import task_headers
from .responses import Json

TASK_RESULTS_PATH = "/api/v1/task_results"
JSON = "application/json"
FAILED_STATUS = 422  # a task that failed answers as a synchronous endpoint's failed task does (media.sync_result)


def location(task: Task) -> str:
    """Relative, so a client behind any base URL (or a proxy's path prefix) resolves it against its own."""
    return f"{TASK_RESULTS_PATH}/{task.id}"


@dataclass(frozen=True)
class PublicAnswer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]

    def as_response(self) -> dict[str, Any]:
        return {"status": self.status, "content_type": JSON, "headers": self.headers, "body": self.body}


def public_answer(request: Request, task: Task) -> PublicAnswer:
    """A terminal task's answer at its own door: a synchronous action's result, another action's status body; a
    failed task the 422 {"error"} a synchronous endpoint answers with."""
    rt = runtime(request)
    body = status_body(task, rt.signer, base_url(request), rt.settings.generated_url_ttl_seconds)
    headers = task_headers(task)
    if task.state is TaskState.FAILED:
        return PublicAnswer(FAILED_STATUS, {"error": body["error"]}, headers)
    action = get_catalog().action(task.family, task.action)
    return PublicAnswer(200, result_only(body) if action and action.sync else body, headers)


def task_result(request: Request, task: Task) -> dict[str, Any]:
    result: dict[str, Any] = {"id": task.id, "status": task.state.wire}
    if task.state.terminal:
        answer = public_answer(request, task)
        if task.state is TaskState.FAILED:
            result["error"] = answer.body["error"]
        result["response"] = answer.as_response()
    return result


async def task_result_endpoint(request: Request) -> Json:
    who = await authenticated(request)
    task = await engine.get_task(runtime(request).db, str(request.path_params["task_id"]), who.account_id)
    if task is None:
        raise task_not_found()
    headers = task_headers(task)
    if not task.state.terminal:
        headers["Retry-After"] = str(retry_after_seconds(task))
    return Json(task_result(request, task), headers=headers)


routes = [Route(TASK_RESULTS_PATH + "/{task_id:uuid}", task_result_endpoint, methods=["GET"], name="task_results:get")]
