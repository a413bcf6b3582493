"""Tasks: the account's media tasks as a filtered table, newest first, a page at a time; and a task's own page
with its parameters, status, timing, cost, previews of what it made, its callback deliveries (with a replay of
the final one) and a cancel while it is processing.

Who sees which task is the API's rule (tasks/listing.scope_of: an admin the account's, a member their own keys'):
a task outside it answers "Task not found", exactly like one that does not exist. Cancel and replay are the
API's own services (tasks/cancel.py, tasks/callbacks.py): the same refund, the same refusals."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...api.context import base_url
from ...api.listing import choice, text
from ...catalog import get_catalog
from ...domain.task import Task
from ...errors import task_not_found
from ...store.pages import PageRequest
from ...tasks.callbacks import callback_history, replay_callback
from ...tasks.cancel import cancel_task
from ...tasks.listing import WIRE_STATUSES, TaskFilter, find_task, list_tasks, scope_of
from ...tasks.views import status_body
from ..context import services
from ..results import task_previews
from ..session import Viewer
from ..task_view import TaskFacts, day_end, day_start, pretty_json
from ..web import is_htmx, redirect, render

PAGE_SIZE = 50
FILTER_FIELDS = ("family", "action", "model", "status", "created_from", "created_until")


def task_filters(request: Request) -> TaskFilter:
    """The list's filters from its form (a field left empty: no filter). The two days are UTC days, both included."""
    q = request.query_params
    return TaskFilter(
        family=text(request, "family"),
        action=text(request, "action"),
        model=text(request, "model"),
        status=choice(request, "status", WIRE_STATUSES),
        created_after=day_start(q.get("created_from"), "created_from"),
        created_before=day_end(q.get("created_until"), "created_until"),
    )


def filter_choices() -> dict[str, list[str]]:
    """What the filter form offers: the catalog's families, actions and models."""
    actions = get_catalog().actions()
    return {
        "families": sorted({a.family for a in actions}),
        "actions": sorted({a.name for a in actions}),
        "models": sorted({m for a in actions for m in a.models}),
    }


async def list_page(request: Request, viewer: Viewer) -> Response:
    filters = task_filters(request)
    after = text(request, "after")
    page = await list_tasks(
        services(request).db, scope_of(viewer.principal), filters, PageRequest(limit=PAGE_SIZE, after=after)
    )
    form = {k: request.query_params.get(k, "") for k in FILTER_FIELDS}
    return await render(
        request,
        "tasks.html",
        viewer,
        rows=[TaskFacts.of(t) for t in page.tasks],
        has_more=page.has_more,
        form=form,
        query={k: v for k, v in form.items() if v},
        statuses=WIRE_STATUSES,
        choices=filter_choices(),
    )


async def visible_task(request: Request, viewer: Viewer) -> Task:
    """The task of the path if the viewer may see it; "Task not found" otherwise (unknown or not theirs alike)."""
    found = await find_task(services(request).db, scope_of(viewer.principal), str(request.path_params["id"]))
    if found is None:
        raise task_not_found()
    return found


async def detail_page(request: Request, viewer: Viewer) -> Response:
    """The task's page; for htmx (its own polling) just the part that changes."""
    task = await visible_task(request, viewer)
    rt = services(request)
    body = status_body(task, rt.signer, base_url(request), rt.settings.generated_url_ttl_seconds)
    deliveries = await callback_history(rt.db, task) if task.callback_url else []
    final_pending = any(d.final and d.state == "pending" for d in deliveries)
    context: dict[str, Any] = {
        "task": TaskFacts.of(task),
        "body": body,
        "body_json": pretty_json(body),
        "params": pretty_json(task.params),
        "previews": task_previews(body),
        "deliveries": deliveries,
        # polled while something is still to come: the outcome, or a callback being delivered
        "live": not task.state.terminal or any(d.state == "pending" for d in deliveries),
        "can_replay": task.state.terminal and bool(task.callback_url) and not final_pending,
    }
    template = "partials/task_detail.html" if is_htmx(request) else "task_detail.html"
    return await render(request, template, viewer, **context)


async def cancel(request: Request, viewer: Viewer) -> Response:
    """Cancel a processing task (refunded, failed "Canceled by the client"); a finished one is refused (409)."""
    task = await visible_task(request, viewer)
    await cancel_task(services(request), task.id, task.account_id)
    return redirect(f"/console/tasks/{task.id}", request)


async def replay(request: Request, viewer: Viewer) -> Response:
    """Send a finished task's final callback again; refused without a callback or while it is being delivered."""
    task = await visible_task(request, viewer)
    await replay_callback(services(request), task)
    return redirect(f"/console/tasks/{task.id}#callbacks", request)
