"""Guardrails and their assignments: create, edit (credit and rate limits, model and provider rules), delete, bind
to a key or a member, unbind. Every change goes
through policy/guardrail_store.py, the service behind /api/v1/guardrails: admins change anything, a member
only guardrails of their own bound only to their own keys, and only an admin binds one to a member."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ... import accounts
from ...api import guardrails as guardrails_api
from ...auth import keys as key_store
from ...auth.keys import INTERVALS
from ...errors import ApiError, InvalidInput, RunapiError
from ...policy import guardrail_store as store
from ...policy.guardrail_store import LIST_FIELDS, Guardrail
from ...ratelimit.policy import FIELDS as RATE_FIELDS
from .. import inputs
from ..context import services
from ..session import Viewer
from ..web import form, redirect, refusal_status, render

LIST_LABELS = {
    "allowed_models": "Allowed models",
    "blocked_models": "Blocked models",
    "allowed_providers": "Allowed providers",
    "blocked_providers": "Blocked providers",
}


def guardrail_fields(data: Any) -> dict[str, Any]:
    """The form as the JSON body /api/v1/guardrails takes, checked by the API's own field rules."""
    name = inputs.text(data, "name")
    if name is None:
        raise InvalidInput("Missing required parameter: name")
    credit = inputs.credit_limit(data)  # parsed before the other fields: its refusal comes first
    return guardrails_api.guardrail_fields(
        {
            "name": name,
            "description": inputs.text(data, "description", 2000),
            "enabled": inputs.checkbox(data, "enabled"),
            **credit,
            "model_budgets": inputs.json_value(data, "model_budgets"),
            **{f: inputs.string_list(data, f) for f in LIST_FIELDS},
            **inputs.rate_limits(data),
        }
    )


def stored_fields(g: Guardrail) -> dict[str, Any]:
    return {
        "name": g.name,
        "description": g.description,
        "enabled": g.enabled,
        "credit_limit_cents": g.credit_limit_cents,
        "credit_limit_reset_interval": g.credit_limit_reset_interval,
        "model_budgets": list(g.model_budgets) if g.model_budgets else None,
        **{f: list(getattr(g, f)) if getattr(g, f) else None for f in LIST_FIELDS},
        **{f: getattr(g, f) for f in RATE_FIELDS},
    }


async def _list_page(
    request: Request,
    viewer: Viewer,
    status: int = 200,
    error: str | None = None,
    submitted: dict[str, Any] | None = None,
) -> Response:
    rt = services(request)
    who = viewer.principal
    guardrails = await store.list_guardrails(rt.db, who)
    assignments = await store.list_assignments(rt.db, who)
    keys = await key_store.list_keys(rt.db, who)
    members = await accounts.list_members(rt.db, who) if viewer.is_admin else []
    return await render(
        request,
        "guardrails.html",
        viewer,
        status=status,
        guardrails=guardrails,
        assignments=assignments,
        keys=keys,
        members=members,
        intervals=INTERVALS,
        list_labels=LIST_LABELS,
        error=error,
        form=submitted or {},
        g=None,
        guardrail_names={g.id: g.name for g in guardrails},
        key_names={k.id: k.name or k.masked for k in keys},
        member_names={m.id: m.email for m in members},
    )


async def list_page(request: Request, viewer: Viewer) -> Response:
    return await _list_page(request, viewer)


async def create(request: Request, viewer: Viewer) -> Response:
    data = await form(request)
    rt = services(request)
    try:
        fields = {k: v for k, v in guardrail_fields(data).items() if v is not None}
        fields["enabled"] = True  # a new guardrail is in force; disable it on its page
        await store.create_guardrail(rt.db, viewer.principal, fields)
    except (RunapiError, ApiError) as exc:
        return await _list_page(request, viewer, 422, exc.message, dict(data))
    rt.guardrails.changed()
    return redirect("/console/guardrails")


async def detail(
    request: Request,
    viewer: Viewer,
    status: int = 200,
    error: str | None = None,
    submitted: dict[str, Any] | None = None,
) -> Response:
    g = await store.get_guardrail(services(request).db, viewer.principal, request.path_params["id"])
    return await render(
        request,
        "guardrail_detail.html",
        viewer,
        status=status,
        g=g,
        intervals=INTERVALS,
        list_labels=LIST_LABELS,
        error=error,
        form=submitted or {},  # a refused save shows what was typed
        saved=request.query_params.get("saved") == "1",
    )


async def detail_page(request: Request, viewer: Viewer) -> Response:
    return await detail(request, viewer)


async def update(request: Request, viewer: Viewer) -> Response:
    rt = services(request)
    gid = request.path_params["id"]
    data = await form(request)
    try:
        current = await store.get_guardrail(rt.db, viewer.principal, gid)
        fields = inputs.changed(stored_fields(current), guardrail_fields(data))
        if fields:
            await store.update_guardrail(rt.db, viewer.principal, gid, fields)
            rt.guardrails.changed()
    except (RunapiError, ApiError) as exc:  # the API's status: 422 for a bad value, 403 for a refusal
        return await detail(request, viewer, refusal_status(exc), exc.message, dict(data))
    return redirect(f"/console/guardrails/{gid}?saved=1")


async def delete(request: Request, viewer: Viewer) -> Response:
    rt = services(request)
    await store.delete_guardrail(rt.db, viewer.principal, request.path_params["id"])
    rt.guardrails.changed()
    return redirect("/console/guardrails")


async def assign(request: Request, viewer: Viewer) -> Response:
    data = await form(request)
    rt = services(request)
    target = str(data.get("target") or "")
    kind, _, target_id = target.partition(":")
    try:
        guardrail_id = inputs.text(data, "guardrail_id", 40)
        if guardrail_id is None:
            raise InvalidInput("Missing required parameter: guardrail_id")
        if kind not in ("key", "member") or not target_id:
            raise InvalidInput("Choose an API key or a member to bind the guardrail to")
        await store.create_assignment(
            rt.db,
            viewer.principal,
            guardrail_id,
            api_key_id=target_id if kind == "key" else None,
            membership_id=target_id if kind == "member" else None,
        )
    except (RunapiError, ApiError) as exc:
        return await _list_page(request, viewer, 422, exc.message)
    rt.guardrails.changed()
    return redirect("/console/guardrails")


async def unassign(request: Request, viewer: Viewer) -> Response:
    rt = services(request)
    await store.delete_assignment(rt.db, viewer.principal, request.path_params["id"])
    rt.guardrails.changed()
    return redirect("/console/guardrails")
