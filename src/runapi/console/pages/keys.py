"""API keys: the list (masked), create (the token shown this once), edit limits, windows, allowed models and
rate limits (rpm, tpm, requests in flight), enable/disable, delete, and each key's spend per window. Every change
goes through auth/keys.py, the service behind /api/v1/keys, so a member can lift only what they set themselves,
exactly as over the API. The instance-wide account limits (settings) are shown, read-only."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...api import keys as keys_api
from ...auth import keys as key_store
from ...auth.keys import INTERVALS, ApiKey
from ...errors import ApiError, RunapiError
from ...policy import guardrail_store
from ...ratelimit.policy import FIELDS as RATE_FIELDS
from ...ratelimit.policy import KINDS
from .. import inputs
from ..context import services
from ..session import Viewer
from ..web import form, redirect, refusal_status, render


def key_fields(data: Any) -> dict[str, Any]:
    """The form as the JSON body /api/v1/keys takes, checked by the API's own field rules."""
    credit = inputs.credit_limit(data)  # parsed before the other fields: its refusal comes first
    return keys_api.key_fields(
        {
            "name": inputs.text(data, "name"),
            **credit,
            "allowed_models": inputs.string_list(data, "allowed_models"),
            **inputs.rate_limits(data),
        }
    )


def stored_fields(key: ApiKey) -> dict[str, Any]:
    return {
        "name": key.name,
        "credit_limit_cents": key.credit_limit_cents,
        "credit_limit_reset_interval": key.credit_limit_reset_interval,
        "allowed_models": list(key.allowed_models) if key.allowed_models else None,
        **{f: getattr(key, f) for f in RATE_FIELDS},
    }


def form_values(key: ApiKey) -> dict[str, str]:
    """The edit form's fields as text, from the stored key (a refused edit shows what was typed instead)."""
    values = {f: "" if v is None else str(v) for f, v in stored_fields(key).items() if f != "allowed_models"}
    values["allowed_models"] = ", ".join(key.allowed_models or ())
    return values


async def _list_page(request: Request, viewer: Viewer, status: int = 200, **context: Any) -> Response:
    rt = services(request)
    keys = await key_store.list_keys(rt.db, viewer.principal)
    names = {g.id: g.name for g in await guardrail_store.list_guardrails(rt.db, viewer.principal)}
    context.setdefault("error", None)
    context.setdefault("created", None)
    context.setdefault("form", {})
    account = rt.rate_limits.account  # the instance-wide limits in force, shared by all the account's keys
    return await render(
        request,
        "keys.html",
        viewer,
        status=status,
        keys=keys,
        guardrail_names=names,
        intervals=INTERVALS,
        account_limits={f: account.of(kind) for f, kind in zip(RATE_FIELDS, KINDS, strict=True)},
        **context,
    )


async def list_page(request: Request, viewer: Viewer) -> Response:
    return await _list_page(request, viewer)


async def create(request: Request, viewer: Viewer) -> Response:
    data = await form(request)
    try:
        fields = {k: v for k, v in key_fields(data).items() if v is not None}
        key, token = await key_store.create_key(services(request).db, viewer.principal, fields)
    except (RunapiError, ApiError) as exc:
        return await _list_page(request, viewer, 422, error=exc.message, form=dict(data))
    return await _list_page(request, viewer, 201, created={"key": key, "token": token})


async def detail(
    request: Request,
    viewer: Viewer,
    status: int = 200,
    error: str | None = None,
    submitted: dict[str, Any] | None = None,
) -> Response:
    rt = services(request)
    key = await key_store.get_key(rt.db, viewer.principal, request.path_params["id"])
    usage = await key_store.key_usage(rt.db, key)
    guardrail = None
    if key.guardrail_id:
        visible = {g.id: g for g in await guardrail_store.list_guardrails(rt.db, viewer.principal)}
        guardrail = visible.get(key.guardrail_id)
    return await render(
        request,
        "key_detail.html",
        viewer,
        status=status,
        key=key,
        usage=usage,
        guardrail=guardrail,
        intervals=INTERVALS,
        values=submitted if submitted is not None else form_values(key),
        error=error,
        saved=request.query_params.get("saved") == "1",
    )


async def detail_page(request: Request, viewer: Viewer) -> Response:
    return await detail(request, viewer)


async def update(request: Request, viewer: Viewer) -> Response:
    rt = services(request)
    key_id = request.path_params["id"]
    data = await form(request)
    try:
        key = await key_store.get_key(rt.db, viewer.principal, key_id)
        fields = inputs.changed(stored_fields(key), key_fields(data))
        if fields:
            await key_store.update_key(rt.db, viewer.principal, key.id, fields)
            rt.authenticate.forget(key.id)  # as PATCH /api/v1/keys/{id}: in force on the next request
    except (RunapiError, ApiError) as exc:  # the API's status: 422 for a bad value, 403 for a member's lifting
        return await detail(request, viewer, refusal_status(exc), exc.message, dict(data))
    return redirect(f"/console/keys/{key_id}?saved=1")


async def set_enabled(request: Request, viewer: Viewer) -> Response:
    rt = services(request)
    enabled = (await form(request)).get("enabled") == "true"
    key = await key_store.update_key(rt.db, viewer.principal, request.path_params["id"], {"enabled": enabled})
    rt.authenticate.forget(key.id)
    return redirect("/console/keys")


async def delete(request: Request, viewer: Viewer) -> Response:
    rt = services(request)
    key = await key_store.delete_key(rt.db, viewer.principal, request.path_params["id"])
    rt.authenticate.forget(key.id)
    return redirect("/console/keys")
