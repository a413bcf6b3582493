"""Management Keys API: GET/POST /api/v1/keys, GET/PATCH/DELETE /api/v1/keys/{id}."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import delete, select, update
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..auth import admin
from ..auth.principal import Principal
from ..billing.ledger import spent_since, window_start
from ..billing.limits import forget_key_counters
from ..errors import ApiError
from ..store.schema import api_keys, guardrail_assignments
from .context import runtime
from .management import (
    body_object,
    check_limit_pair,
    given,
    iso,
    manager,
    not_found,
    opt_bool,
    opt_cents,
    opt_interval,
    opt_string,
    opt_string_list,
)
from .responses import Json, json_body


def _visible(who: Principal):
    """Admins manage every API key of the account; other members only their own."""
    cond = (api_keys.c.account_id == who.account_id) & (api_keys.c.kind == "api") & api_keys.c.deleted_at.is_(None)
    if who.role != "admin":
        cond = cond & (api_keys.c.membership_id == who.membership_id)
    return cond


def key_object(row: Any, guardrail_id: str | None) -> dict[str, Any]:
    return {
        "name": row["name"], "last_used_at": iso(row["last_used_at"]), "created_at": iso(row["created_at"]),
        "credit_limit_cents": row["credit_limit_cents"],
        "credit_limit_reset_interval": row["credit_limit_reset_interval"],
        "allowed_models": row["allowed_models"], "enabled": bool(row["enabled"]), "id": row["id"],
        "masked_token": row["masked"], "guardrail_id": guardrail_id,
    }


def _select_keys(who: Principal):
    return (select(api_keys, guardrail_assignments.c.guardrail_id)
            .outerjoin(guardrail_assignments, guardrail_assignments.c.api_key_id == api_keys.c.id)
            .where(_visible(who)))


async def _load(request: Request, who: Principal) -> dict[str, Any]:
    async with runtime(request).db.read() as conn:
        row = (await conn.execute(_select_keys(who).where(api_keys.c.id == request.path_params["id"])))\
            .mappings().first()
    if row is None:
        raise not_found()
    return dict(row)


def _fields(body: dict[str, Any]) -> dict[str, Any]:
    return given({
        "name": opt_string(body, "name"), "credit_limit_cents": opt_cents(body, "credit_limit_cents"),
        "credit_limit_reset_interval": opt_interval(body), "allowed_models": opt_string_list(body, "allowed_models"),
        "enabled": opt_bool(body, "enabled"),
    })


LIMIT_FIELDS = ("credit_limit_cents", "credit_limit_reset_interval", "allowed_models")


def _ownership(who: Principal, row: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """Who owns the key's limits and its disabling after this change (columns to update). A member may set
    and lift only limits they set themselves, and re-enable only a key they disabled; what an admin set on a
    member's key only an admin can undo. Tightening (disabling) is always allowed."""
    out: dict[str, Any] = {}
    admin_call = who.role == "admin"
    if any(f in fields for f in LIMIT_FIELDS):
        if not admin_call and row["limits_set_by"] not in (None, who.membership_id):
            raise ApiError(403, "Only an account admin can change the limits an admin set on this key")
        merged = {**row, **fields}
        unrestricted = merged["credit_limit_cents"] is None and not merged["allowed_models"]
        out["limits_set_by"] = None if unrestricted else who.membership_id
    if fields.get("enabled") is True and not row["enabled"]:
        if not admin_call and row["disabled_by"] not in (None, who.membership_id):
            raise ApiError(403, "Only an account admin can re-enable a key an admin disabled")
        out["disabled_by"] = None
    elif fields.get("enabled") is False and (row["enabled"] or admin_call or row["disabled_by"] is None):
        out["disabled_by"] = who.membership_id  # (a member disabling again keeps an admin's disabling)
    return out


async def list_keys(request: Request) -> Json:
    who = await manager(request)
    async with runtime(request).db.read() as conn:
        rows = (await conn.execute(_select_keys(who).order_by(api_keys.c.created_at))).mappings().all()
    return Json([key_object(r, r["guardrail_id"]) for r in rows])


async def create_key(request: Request) -> Json:
    who = await manager(request)
    fields = _fields(body_object(await json_body(request)))
    check_limit_pair(fields.get("credit_limit_cents"), fields.get("credit_limit_reset_interval"))
    settings = {
        "credit_limit_cents": fields.get("credit_limit_cents"),
        "credit_limit_reset_interval": fields.get("credit_limit_reset_interval")
        if fields.get("credit_limit_cents") is not None else None,
        "allowed_models": fields.get("allowed_models"), "enabled": fields.get("enabled", True),
    }
    restricted = settings["credit_limit_cents"] is not None or settings["allowed_models"]
    settings["limits_set_by"] = who.membership_id if restricted else None
    settings["disabled_by"] = None if settings["enabled"] else who.membership_id
    # One insert with every setting (validated above): no window where the key is live without its limits.
    minted = await admin.mint_key(runtime(request).db, who.account_id, "api", name=fields.get("name"),
                                  membership_id=who.membership_id, settings=settings)
    row = {**settings, "id": minted.id, "name": fields.get("name"), "masked": minted.masked,
           "created_at": minted.created_at, "last_used_at": None}
    return Json({**key_object(row, None), "key": minted.token}, status_code=201)  # the token, this once


async def get_key(request: Request) -> Json:
    who = await manager(request)
    row = await _load(request, who)
    async with runtime(request).db.read() as conn:
        usage = {f"credit_usage_cents_{label}": await spent_since(conn, who.account_id, window_start(interval),
                                                                  api_key_id=row["id"])
                 for label, interval in (("total", None), ("today", "daily"), ("this_week", "weekly"),
                                         ("this_month", "monthly"))}
    return Json({**key_object(row, row["guardrail_id"]), **usage})


async def patch_key(request: Request) -> Json:
    who = await manager(request)
    row = await _load(request, who)
    fields = _fields(body_object(await json_body(request)))
    rt = runtime(request)
    if fields:
        async with rt.db.write() as conn:
            # Re-read inside the write: who owns the limits is decided on what this update replaces.
            row = (await conn.execute(_select_keys(who).where(api_keys.c.id == row["id"]).with_for_update(
                of=api_keys))).mappings().first()
            if row is None:
                raise not_found()
            row = dict(row)
            if "credit_limit_cents" in fields:
                if fields["credit_limit_cents"] is None:
                    fields["credit_limit_reset_interval"] = None  # clearing the limit clears its window
                else:
                    check_limit_pair(fields["credit_limit_cents"],
                                     fields.get("credit_limit_reset_interval", row["credit_limit_reset_interval"]))
            fields.update(_ownership(who, row, fields))
            await conn.execute(update(api_keys).where(api_keys.c.id == row["id"]).values(**fields))
            if "credit_limit_cents" in fields or "credit_limit_reset_interval" in fields:
                await conn.execute(forget_key_counters(row["id"]))  # re-derived from the ledger under the new limit
        rt.authenticate.forget(row["id"])  # enabled:false takes effect on the next request
    return Json(key_object({**row, **fields}, row["guardrail_id"]))


async def delete_key(request: Request) -> Response:
    who = await manager(request)
    row = await _load(request, who)
    rt = runtime(request)
    async with rt.db.write() as conn:
        await conn.execute(update(api_keys).where(api_keys.c.id == row["id"])
                           .values(deleted_at=time.time(), enabled=False))
        await conn.execute(delete(guardrail_assignments).where(guardrail_assignments.c.api_key_id == row["id"]))
    rt.authenticate.forget(row["id"])
    return Response(status_code=204)


routes = [
    Route("/api/v1/keys", list_keys, methods=["GET"]),
    Route("/api/v1/keys", create_key, methods=["POST"]),
    Route("/api/v1/keys/{id}", get_key, methods=["GET"]),
    Route("/api/v1/keys/{id}", patch_key, methods=["PATCH"]),
    Route("/api/v1/keys/{id}", delete_key, methods=["DELETE"]),
]
