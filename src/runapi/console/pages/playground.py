"""The media playground: pick family → action → model, fill a form generated from the catalog, run it, watch
the result arrive.

A run is an ordinary task, created through the same path as POST /api/v1/<family>/<action> (tasks/submit.py:
the catalog's validation, the price, guardrails, the reservation against the key's and guardrails' limits),
as one of the member's own API keys: its allowed models, limits and guardrails apply and its spend is its
own. A member without an API key gets one named "Console playground" at their first run. Files chosen in the
form are stored through the files service (storage/uploads.py, the same limits as POST /api/v1/files) and
their signed URLs go into the request, as an API user would do it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response

from ... import files_policy
from ...api.context import base_url
from ...auth import keys as key_store
from ...auth.keys import ApiKey
from ...auth.principal import Principal
from ...catalog import Action, Family, ModelSpec, get_catalog
from ...domain.task import Task
from ...errors import task_not_found
from ...storage import quota
from ...storage.uploads import store_input
from ...tasks.listing import find_task, scope_of
from ...tasks.submit import submit_task, validated
from ...tasks.views import status_body
from ..context import services
from ..forms import FormField, body_from_form, fields_for
from ..results import task_previews
from ..session import Viewer
from ..web import Refused, form, render

PLAYGROUND_KEY_NAME = "Console playground"


@dataclass(frozen=True)
class Choice:
    """The family, action and model a playground form is for (each falls back to the first valid one)."""

    family: Family
    action: Action
    model: ModelSpec | None

    @property
    def models(self) -> list[ModelSpec]:
        return list(self.action.models.values())


def choose(family: str | None, action: str | None, model: str | None) -> Choice:
    catalog = get_catalog()
    fam = catalog.families.get(family or "") or next(iter(catalog.families.values()))
    act = fam.actions.get(action or "") or next(iter(fam.actions.values()))
    spec = act.models.get(model or "")
    if spec is None and act.models:
        spec = act.models.get(act.default_model or "") or next(iter(act.models.values()))
    return Choice(fam, act, spec)


async def own_api_keys(request: Request, viewer: Viewer) -> list[ApiKey]:
    """The member's own enabled API keys: what the playground may run as."""
    keys = await key_store.list_keys(services(request).db, viewer.principal)
    return [k for k in keys if k.enabled and k.membership_id == viewer.session.membership_id]


async def acting_key(request: Request, viewer: Viewer, key_id: str) -> Principal:
    """The chosen key as a principal; with none chosen and none to choose, a new "Console playground" key."""
    db = services(request).db
    if not key_id:
        keys = await own_api_keys(request, viewer)
        if keys:
            key_id = keys[0].id
        else:
            key, _ = await key_store.create_key(db, viewer.principal, {"name": PLAYGROUND_KEY_NAME})
            key_id = key.id
    return await key_store.acting_key(db, viewer.principal, key_id)


def _picker_context(choice: Choice) -> dict[str, Any]:
    return {
        "families": list(get_catalog().families.values()),
        "choice": choice,
        "fields": fields_for(choice.action, choice.model),
    }


async def playground(request: Request, viewer: Viewer) -> Response:
    q = request.query_params
    choice = choose(q.get("family"), q.get("action"), q.get("model"))
    keys = await own_api_keys(request, viewer)
    return await render(
        request, "playground.html", viewer, keys=keys, selected_key=q.get("key", ""), **_picker_context(choice)
    )


async def picker(request: Request, viewer: Viewer) -> Response:
    """The picker and the parameter form for another family, action or model (htmx swaps them in)."""
    q = request.query_params
    choice = choose(q.get("family"), q.get("action"), q.get("model"))
    if q.get("changed") == "family":
        choice = choose(choice.family.name, None, None)
    elif q.get("changed") == "action":
        choice = choose(choice.family.name, choice.action.name, None)
    return await render(request, "partials/playground_form.html", viewer, **_picker_context(choice))


async def _uploads(request: Request, who: Principal, fields: list[FormField], data: FormData) -> dict[str, list[str]]:
    """Store the files chosen for URL parameters; their signed URLs, per parameter."""
    rt = services(request)
    limits = quota.UploadLimits.from_settings(rt.settings)
    out: dict[str, list[str]] = {}
    for f in fields:
        if not f.takes_files:
            continue
        for item in data.getlist(f.file_name):
            if not isinstance(item, UploadFile) or not item.filename:
                continue  # (an empty file input sends a part without a name)
            raw = await item.read(files_policy.LOCAL_MAX_BYTES + 1)
            stored = await store_input(
                rt.db, rt.storage, limits, who.account_id, who.key_id, raw, item.filename, item.filename
            )
            assert stored.key is not None
            out.setdefault(f.name, []).append(rt.signer.url(base_url(request), stored.key, int(stored.expires_at)))
    return out


async def run(request: Request, viewer: Viewer) -> Response:
    data = await form(request)
    choice = choose(str(data.get("family") or ""), str(data.get("action") or ""), str(data.get("model") or ""))
    if (choice.family.name, choice.action.name) != (data.get("family"), data.get("action")):
        raise Refused(404, "No such family or action in the catalog")
    rt = services(request)
    who = await acting_key(request, viewer, str(data.get("key_id") or ""))
    fields = fields_for(choice.action, choice.model)
    params = choice.model.params if choice.model else choice.action.params
    body = body_from_form(
        fields, data, await _uploads(request, who, fields, data), {name: p.enum for name, p in params.items()}
    )
    if choice.model is not None and choice.action.model_param != "absent":
        body["model"] = choice.model.id
    submitted = await submit_task(rt, who, validated(who, choice.action, body), public_base_url=base_url(request))
    return await _task_view(request, viewer, submitted.task, status=201)


@dataclass(frozen=True)
class TaskSummary:
    """What the page shows of a task row besides its status body."""

    id: str
    what: str  # the model, or family/action for actions without one
    price_cents: int
    created_at: float
    seconds: float | None  # how long it took, once finished
    params: dict[str, Any]  # the request as validated (defaults applied)

    @classmethod
    def of(cls, task: Task) -> TaskSummary:
        done = task.completed_at
        return cls(
            id=task.id,
            what=task.model or task.kind,
            price_cents=task.price_cents,
            created_at=task.created_at,
            seconds=done - task.created_at if done else None,
            params=dict(task.params),
        )


async def _task_view(request: Request, viewer: Viewer, task: Task, status: int = 200) -> Response:
    rt = services(request)
    body = status_body(task, rt.signer, base_url(request), rt.settings.generated_url_ttl_seconds)
    template = "partials/playground_task.html" if request.headers.get("hx-request") else "playground_task.html"
    return await render(
        request,
        template,
        viewer,
        status=status,
        task=TaskSummary.of(task),
        body=body,
        previews=task_previews(body),
    )


async def task(request: Request, viewer: Viewer) -> Response:
    """A playground task's state; while it is processing the fragment polls itself (htmx, every second). Only
    a task the viewer may see (as on the Tasks page: a member, their own keys' tasks)."""
    found = await find_task(services(request).db, scope_of(viewer.principal), request.path_params["id"])
    if found is None:
        raise task_not_found()
    return await _task_view(request, viewer, found)
