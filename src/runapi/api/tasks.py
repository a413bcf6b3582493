"""Task routes that are not per catalog action: the account's task list (GET /api/v1/tasks), a cancel of any
task (POST /api/v1/tasks/<id>/cancel), a task read by its family alone (GET /api/v1/<family>/<id>, how the
MCP server reads tasks) and a task's result resource (GET /api/v1/task_results/<id>, api/task_results.py)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from ..callbacks.history import Delivery
from ..catalog import Catalog
from ..domain.task import Task
from ..domain.times import iso
from ..errors import task_not_found
from ..tasks import engine
from ..tasks.callbacks import callback_history, replay_callback
from ..tasks.listing import WIRE_STATUSES, TaskFilter, list_tasks, scope_of
from ..tasks.views import cost_cents, retry_after_seconds, status_body
from .context import authenticated, base_url, runtime
from .listing import choice, page_request, text, unix_time
from .media import Endpoint, cancel_endpoint, task_headers
from .responses import Json
from .task_results import routes as task_result_routes


def _filters(request: Request) -> TaskFilter:
    return TaskFilter(
        family=text(request, "family"),
        action=text(request, "action"),
        model=text(request, "model"),
        status=choice(request, "status", WIRE_STATUSES),
        api_key_id=text(request, "api_key_id"),
        created_after=unix_time(request, "created_after"),
        created_before=unix_time(request, "created_before"),
    )


def list_item(task: Task, body: dict[str, Any]) -> dict[str, Any]:
    return {
        **body,
        "family": task.family,
        "action": task.action,
        "created": round(task.created_at, 3),
        "created_at": iso(task.created_at),
        "completed_at": iso(task.completed_at),
        "cost_cents": cost_cents(task),
    }


async def list_endpoint(request: Request) -> Json:
    rt = runtime(request)
    who = await authenticated(request)
    page = await list_tasks(rt.db, scope_of(who), _filters(request), page_request(request))
    base, ttl = base_url(request), rt.settings.generated_url_ttl_seconds
    return Json(
        {
            "object": "list",
            "data": [list_item(t, status_body(t, rt.signer, base, ttl)) for t in page.tasks],
            "first_id": page.first_id,
            "last_id": page.last_id,
            "has_more": page.has_more,
        }
    )


def family_status_endpoint(family: str) -> Endpoint:
    """GET /api/v1/<family>/<id>: the status body of a task of this family, whichever action made it."""

    async def status(request: Request) -> Json:
        rt = runtime(request)
        who = await authenticated(request)
        task = await engine.get_task(rt.db, str(request.path_params["task_id"]), who.account_id)
        if task is None or task.family != family:
            raise task_not_found()
        body = status_body(task, rt.signer, base_url(request), rt.settings.generated_url_ttl_seconds)
        headers = task_headers(task)
        if body["status"] == "processing":
            headers["Retry-After"] = str(retry_after_seconds(task))
        return Json(body, headers=headers)

    return status


def delivery_object(d: Delivery) -> dict[str, Any]:
    return {
        "id": d.id,
        "object": "callback_delivery",
        "final": d.final,
        "seq": d.seq,
        "url": d.url,
        "state": d.state,
        "created_at": iso(d.created_at),
        "delivered_at": iso(d.delivered_at),
        "last_status": d.last_status,
        "last_error": d.last_error,
        "attempts": [
            {
                "attempt": a.attempt,
                "started": round(a.started_at, 3),
                "started_at": iso(a.started_at),
                "status_code": a.status_code,
                "latency_ms": a.latency_ms,
                "error": a.error,
            }
            for a in d.attempts
        ],
    }


async def _own_task(request: Request) -> Task:
    who = await authenticated(request)
    task = await engine.get_task(runtime(request).db, str(request.path_params["task_id"]), who.account_id)
    if task is None:
        raise task_not_found()
    return task


async def callbacks_endpoint(request: Request) -> Json:
    """GET /api/v1/tasks/<id>/callbacks: the task's callback deliveries, each with every attempt."""
    task = await _own_task(request)
    found = await callback_history(runtime(request).db, task)
    return Json({"object": "list", "data": [delivery_object(d) for d in found]})


async def replay_endpoint(request: Request) -> Json:
    """POST /api/v1/tasks/<id>/callbacks/replay: send the final callback again (same X-Callback-Id, signed
    afresh); 409 without a callback_url, before the task has finished, or while it is still being delivered."""
    rt = runtime(request)
    task = await _own_task(request)
    callback_id = await replay_callback(rt, task)
    found = await callback_history(rt.db, task)
    [replayed] = [d for d in found if d.id == callback_id]
    return Json(delivery_object(replayed), status_code=202)


routes = [
    Route("/api/v1/tasks", list_endpoint, methods=["GET"], name="tasks:list"),
    Route("/api/v1/tasks/{task_id}/callbacks", callbacks_endpoint, methods=["GET"], name="tasks:callbacks"),
    Route("/api/v1/tasks/{task_id}/callbacks/replay", replay_endpoint, methods=["POST"], name="tasks:replay"),
    Route("/api/v1/tasks/{task_id}/cancel", cancel_endpoint(None), methods=["POST"], name="tasks:cancel"),
    *task_result_routes,  # GET /api/v1/task_results/<id>: where a hybrid create's 202 Location points
]


def family_routes(catalog: Catalog) -> list[Route]:
    """After the action routes: the id is a uuid (the convertor), so an action's own path never matches here."""
    families = sorted({action.family for action in catalog.actions()})
    return [
        Route(f"/api/v1/{f}/{{task_id:uuid}}", family_status_endpoint(f), methods=["GET"], name=f"{f}:status")
        for f in families
    ]
