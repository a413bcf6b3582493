"""The two generic handlers every media endpoint uses: create a task, read a task. Routes come from the catalog."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.routing import Route

from ..auth.principal import require_api_key
from ..catalog import Action, Catalog
from ..domain.task import Task, TaskState
from ..errors import ApiError, task_not_found
from ..tasks import engine
from ..tasks.cancel import cancel_task
from ..tasks.submit import submit_task, validated
from ..tasks.views import billing_facts, result_only, retry_after_seconds, status_body
from .context import authenticated, base_url, runtime
from .responses import Json, json_body

MAX_IDEMPOTENCY_KEY = 255
MAX_CLIENT_REQUEST_ID = 512
TASK_ID_HEADER = "X-RunAPI-Task-Id"
CLIENT_REQUEST_ID_HEADER = "X-Client-Request-Id"
Endpoint = Callable[[Request], Awaitable[Json]]


def create_endpoint(action: Action) -> Endpoint:
    async def create(request: Request) -> Json:
        rt = runtime(request)
        who = await authenticated(request)
        require_api_key(who)
        valid = validated(who, action, await json_body(request))
        idem = idempotency_key_of(request)
        client_request_id = client_request_id_of(request)
        # pricing, guardrails and the reservation: the one create path (tasks/submit.py)
        submitted = await submit_task(
            rt, who, valid, public_base_url=base_url(request), idempotency_key=idem, client_request_id=client_request_id
        )
        return await created_answer(
            request, action, submitted.task, replayed=not submitted.created, client_request_id=client_request_id
        )

    return create


def idempotency_key_of(request: Request) -> str | None:
    idem = request.headers.get("idempotency-key", "").strip() or None
    if idem and len(idem) > MAX_IDEMPOTENCY_KEY:
        raise ApiError(400, f"Idempotency-Key must be at most {MAX_IDEMPOTENCY_KEY} characters")
    return idem


def client_request_id_of(request: Request) -> str | None:
    """X-Client-Request-Id: the client's own correlation id, kept with the task. Printable ASCII only, so it
    can be echoed in a header and logged as it is."""
    value = request.headers.get(CLIENT_REQUEST_ID_HEADER)
    if value is None or not value.strip():
        return None
    if len(value) > MAX_CLIENT_REQUEST_ID or not all(" " <= ch <= "~" for ch in value):
        raise ApiError(
            400, f"{CLIENT_REQUEST_ID_HEADER} must be at most {MAX_CLIENT_REQUEST_ID} printable ASCII characters"
        )
    return value


def task_headers(task: Task, client_request_id: str | None = None) -> dict[str, str]:
    headers = {TASK_ID_HEADER: task.id}
    echoed = client_request_id or task.client_request_id
    if echoed:
        headers[CLIENT_REQUEST_ID_HEADER] = echoed
    return headers


async def created_answer(
    request: Request, action: Action, task: Task, *, replayed: bool, client_request_id: str | None
) -> Json:
    """The answer to a create: 202 {"id", "status"}; for an Idempotency-Key replay, the same status code with the
    task's current status body and "task_replayed": true (a retry looks like the original answer, plus news)."""
    headers = task_headers(task, client_request_id)
    if action.sync:
        return await sync_result(request, task.id, task.account_id, headers)
    if not replayed:
        return Json(
            {"id": task.id, "status": TaskState.QUEUED.wire, "billing": billing_facts(task)},
            status_code=202,
            headers=headers,
        )
    rt = runtime(request)  # the replayed row was read just now: it is the task's current state
    body = status_body(task, rt.signer, base_url(request), rt.settings.generated_url_ttl_seconds)
    if body["status"] == "processing":
        headers["Retry-After"] = str(retry_after_seconds(task))
    return Json({**body, "task_replayed": True}, status_code=202, headers=headers)


SYNC_TIMEOUT_SECONDS = 120


async def sync_result(request: Request, task_id: str, account_id: int, headers: dict[str, str]) -> Json:
    """Synchronous endpoints run as ordinary durable tasks; the request waits for the result body."""
    rt = runtime(request)
    await rt.wait_finished(task_id, SYNC_TIMEOUT_SECONDS)
    task = await engine.get_task(rt.db, task_id, account_id)
    if task is None:  # not seen: it was created by this account just now, and tasks are never deleted
        raise task_not_found()
    body = status_body(task, rt.signer, base_url(request), rt.settings.generated_url_ttl_seconds)
    if task.state is TaskState.FAILED:
        raise ApiError(422, body["error"], headers=headers)
    if task.state is not TaskState.COMPLETED:
        raise still_running(headers)
    return Json(result_only(body), headers=headers)


def still_running(headers: dict[str, str]) -> ApiError:
    """A synchronous request whose task did not finish in time (the task goes on: a retry may find it done)."""
    return ApiError(
        503, "The request is taking longer than expected; try again", headers={**headers, "Retry-After": "5"}
    )


def status_endpoint(action: Action) -> Endpoint:
    async def status(request: Request) -> Json:
        rt = runtime(request)
        who = await authenticated(request)
        task = await engine.get_task(rt.db, request.path_params["task_id"], who.account_id)
        if task is None or task.family != action.family or task.action != action.name:
            raise task_not_found()
        body = status_body(task, rt.signer, base_url(request), rt.settings.generated_url_ttl_seconds)
        headers = task_headers(task)
        if body["status"] == "processing":  # the SDKs poll by it
            headers["Retry-After"] = str(retry_after_seconds(task))
        return Json(body, headers=headers)

    return status


def cancel_endpoint(action: Action | None) -> Endpoint:
    """POST .../<id>/cancel: fail a processing task (refunded; "Canceled by the client"), 409 once finished. With
    an action, only that action's tasks are found (as its status endpoint); without, any task of the account."""

    async def cancel(request: Request) -> Json:
        rt = runtime(request)
        who = await authenticated(request)
        require_api_key(who)
        task_id = str(request.path_params["task_id"])
        if action is not None:
            found = await engine.get_task(rt.db, task_id, who.account_id)
            if found is None or found.family != action.family or found.action != action.name:
                raise task_not_found()
        task = await cancel_task(rt, task_id, who.account_id)
        body = status_body(task, rt.signer, base_url(request), rt.settings.generated_url_ttl_seconds)
        return Json(body, headers=task_headers(task))

    return cancel


def media_routes(catalog: Catalog) -> list[Route]:
    routes = []
    for action in catalog.actions():
        routes.append(Route(action.path, create_endpoint(action), methods=["POST"], name=f"{action.key}:create"))
        routes.append(
            Route(action.path + "/{task_id}", status_endpoint(action), methods=["GET"], name=f"{action.key}:status")
        )
        routes.append(
            Route(
                action.path + "/{task_id}/cancel",
                cancel_endpoint(action),
                methods=["POST"],
                name=f"{action.key}:cancel",
            )
        )
    return routes
