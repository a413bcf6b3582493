"""Guardrails and guardrail assignments APIs (management keys), and the per-request guardrail check."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..auth.principal import Principal
from ..auth.tokens import new_prefixed_id
from ..errors import ApiError
from ..store.schema import api_keys, guardrail_assignments, guardrails, memberships
from .context import runtime
from .management import (
    INTERVALS,
    MISSING,
    body_object,
    check_cents,
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

LIST_FIELDS = ("allowed_models", "blocked_models", "allowed_providers", "blocked_providers")


def guardrail_object(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"], "name": row["name"], "description": row["description"], "enabled": bool(row["enabled"]),
        "credit_limit_cents": row["credit_limit_cents"],
        "credit_limit_reset_interval": row["credit_limit_reset_interval"],
        **{f: row[f] for f in LIST_FIELDS}, "model_budgets": row["model_budgets"],
        "created_at": iso(row["created_at"]), "updated_at": iso(row["updated_at"]),
    }


def _model_budgets(body: dict[str, Any]) -> Any:
    value = body.get("model_budgets", MISSING)
    if value is MISSING:
        return value
    if value is None or value == []:
        return None
    if not isinstance(value, list):
        raise ApiError(422, "model_budgets must be an array")
    budgets = []
    for i, item in enumerate(value):
        name = f"model_budgets[{i}]"
        if not isinstance(item, dict):
            raise ApiError(422, f"{name} must be an object")
        if item.get("match_mode") not in ("include", "exclude"):
            raise ApiError(422, f"{name}.match_mode must be include or exclude")
        models = item.get("models")
        if not isinstance(models, list) or not models or not all(isinstance(m, str) and m for m in models):
            raise ApiError(422, f"{name}.models must be a non-empty array of model ids")
        limit = check_cents(item.get("credit_limit_cents"), f"{name}.credit_limit_cents")
        interval = item.get("credit_limit_reset_interval")
        if interval is not None and interval not in INTERVALS:
            raise ApiError(422, f"{name}.credit_limit_reset_interval must be one of {', '.join(INTERVALS)} or null")
        budgets.append({"match_mode": item["match_mode"], "models": models, "credit_limit_cents": limit,
                        "credit_limit_reset_interval": interval})
    return budgets


def _fields(body: dict[str, Any]) -> dict[str, Any]:
    fields = given({
        "name": opt_string(body, "name"), "description": opt_string(body, "description", 2000),
        "enabled": opt_bool(body, "enabled"), "credit_limit_cents": opt_cents(body, "credit_limit_cents"),
        "credit_limit_reset_interval": opt_interval(body), "model_budgets": _model_budgets(body),
        **{f: opt_string_list(body, f) for f in LIST_FIELDS},
    })
    if "name" in fields and not (fields["name"] or "").strip():
        raise ApiError(422, "name must not be empty")
    return fields


async def _name_taken(conn: AsyncConnection, account_id: int, name: str, except_id: str | None = None) -> bool:
    q = select(guardrails.c.id).where(guardrails.c.account_id == account_id, guardrails.c.deleted_at.is_(None),
                                      guardrails.c.name_key == name.strip().casefold())
    if except_id:
        q = q.where(guardrails.c.id != except_id)
    return (await conn.execute(q)).first() is not None


def _visible(who: Principal):
    live = (guardrails.c.account_id == who.account_id) & guardrails.c.deleted_at.is_(None)
    if who.role == "admin":
        return live
    own_keys = select(api_keys.c.id).where(api_keys.c.membership_id == who.membership_id)
    bound_to_me = select(guardrail_assignments.c.guardrail_id).where(or_(
        guardrail_assignments.c.api_key_id.in_(own_keys), guardrail_assignments.c.membership_id == who.membership_id))
    return live & (or_(guardrails.c.created_by == who.membership_id, guardrails.c.id.in_(bound_to_me)))


async def _load(conn: AsyncConnection, who: Principal, guardrail_id: str) -> dict[str, Any]:
    row = (await conn.execute(select(guardrails).where(_visible(who), guardrails.c.id == guardrail_id)))\
        .mappings().first()
    if row is None:
        raise not_found()
    return dict(row)


async def _may_change(conn: AsyncConnection, who: Principal, row: dict[str, Any]) -> None:
    """Admins change any guardrail; others only ones they created that are bound only to their own keys, and
    only by themselves: a guardrail an admin bound (even the member's own) is the admin's to change."""
    if who.role == "admin":
        return
    assigned = (await conn.execute(
        select(guardrail_assignments.c.api_key_id, guardrail_assignments.c.membership_id, api_keys.c.membership_id,
               guardrail_assignments.c.created_by)
        .outerjoin(api_keys, api_keys.c.id == guardrail_assignments.c.api_key_id)
        .where(guardrail_assignments.c.guardrail_id == row["id"]))).all()
    foreign = any(a[1] is not None or a[2] != who.membership_id or a[3] != who.membership_id for a in assigned)
    if row["created_by"] != who.membership_id or foreign:
        raise ApiError(403, "Only an account admin can change this guardrail")


async def list_guardrails(request: Request) -> Json:
    who = await manager(request)
    async with runtime(request).db.read() as conn:
        rows = (await conn.execute(select(guardrails).where(_visible(who)).order_by(guardrails.c.created_at)))\
            .mappings().all()
    return Json({"guardrails": [guardrail_object(r) for r in rows]})


async def create_guardrail(request: Request) -> Json:
    who = await manager(request)
    fields = _fields(body_object(await json_body(request)))
    if "name" not in fields or fields["name"] is None:
        raise ApiError(400, "Missing required parameter: name")
    check_limit_pair(fields.get("credit_limit_cents"), fields.get("credit_limit_reset_interval"))
    if fields.get("credit_limit_reset_interval") is not None and fields.get("credit_limit_cents") is None:
        raise ApiError(422, "credit_limit_cents is required when credit_limit_reset_interval is set")
    now = time.time()
    row = {"id": new_prefixed_id("guardrail"), "account_id": who.account_id, "created_by": who.membership_id,
           "enabled": True, "description": None, "credit_limit_cents": None, "credit_limit_reset_interval": None,
           "model_budgets": None, **{f: None for f in LIST_FIELDS}, **fields,
           "name": fields["name"].strip(), "name_key": fields["name"].strip().casefold(),
           "created_at": now, "updated_at": now, "deleted_at": None}
    async with runtime(request).db.write() as conn:
        if await _name_taken(conn, who.account_id, row["name"]):
            raise ApiError(422, f"A guardrail named {row['name']!r} already exists")
        await conn.execute(insert(guardrails).values(**row))
    return Json({"guardrail": guardrail_object(row)}, status_code=201)


async def get_guardrail(request: Request) -> Json:
    who = await manager(request)
    async with runtime(request).db.read() as conn:
        row = await _load(conn, who, request.path_params["id"])
    return Json({"guardrail": guardrail_object(row)})


async def patch_guardrail(request: Request) -> Json:
    who = await manager(request)
    fields = _fields(body_object(await json_body(request)))
    async with runtime(request).db.write() as conn:
        row = await _load(conn, who, request.path_params["id"])
        await _may_change(conn, who, row)
        merged = {**row, **fields}
        if "credit_limit_cents" in fields and fields["credit_limit_cents"] is None:
            merged["credit_limit_reset_interval"] = fields["credit_limit_reset_interval"] = None
        check_limit_pair(merged["credit_limit_cents"], merged["credit_limit_reset_interval"])
        if merged["credit_limit_reset_interval"] is not None and merged["credit_limit_cents"] is None:
            raise ApiError(422, "credit_limit_cents is required when credit_limit_reset_interval is set")
        if "name" in fields:
            fields["name"] = merged["name"] = fields["name"].strip()
            fields["name_key"] = fields["name"].casefold()
            if await _name_taken(conn, who.account_id, fields["name"], except_id=row["id"]):
                raise ApiError(422, f"A guardrail named {fields['name']!r} already exists")
        merged["updated_at"] = fields["updated_at"] = time.time()
        await conn.execute(update(guardrails).where(guardrails.c.id == row["id"]).values(**fields))
    runtime(request).guardrails.changed()
    return Json({"guardrail": guardrail_object(merged)})


async def delete_guardrail(request: Request) -> Response:
    """Soft delete: the name becomes free again and every assignment of it goes."""
    who = await manager(request)
    async with runtime(request).db.write() as conn:
        row = await _load(conn, who, request.path_params["id"])
        await _may_change(conn, who, row)
        await conn.execute(update(guardrails).where(guardrails.c.id == row["id"]).values(deleted_at=time.time()))
        await conn.execute(delete(guardrail_assignments).where(guardrail_assignments.c.guardrail_id == row["id"]))
    runtime(request).guardrails.changed()
    return Response(status_code=204)


# ------------------------------------------------------------------------------------------- assignments


def assignment_object(row: Any) -> dict[str, Any]:
    return {"id": row["id"], "guardrail_id": row["guardrail_id"], "api_token_id": row["api_key_id"],
            "account_user_id": row["membership_id"], "created_at": iso(row["created_at"])}


def _visible_assignments(who: Principal):
    cond = guardrail_assignments.c.account_id == who.account_id
    if who.role != "admin":
        own_keys = select(api_keys.c.id).where(api_keys.c.membership_id == who.membership_id)
        cond = cond & guardrail_assignments.c.api_key_id.in_(own_keys)
    return cond


async def list_assignments(request: Request) -> Json:
    who = await manager(request)
    async with runtime(request).db.read() as conn:
        rows = (await conn.execute(select(guardrail_assignments).where(_visible_assignments(who))
                                   .order_by(guardrail_assignments.c.created_at))).mappings().all()
    return Json({"guardrail_assignments": [assignment_object(r) for r in rows]})


async def create_assignment(request: Request) -> Json:
    who = await manager(request)
    body = body_object(await json_body(request))
    guardrail_id = opt_string(body, "guardrail_id", 40)
    key_id = opt_string(body, "api_token_id", 40)
    member_id = opt_string(body, "account_user_id", 40)
    if guardrail_id in (None, MISSING):
        raise ApiError(400, "Missing required parameter: guardrail_id")
    key_id = None if key_id is MISSING else key_id
    member_id = None if member_id is MISSING else member_id
    if (key_id is None) == (member_id is None):
        raise ApiError(422, "Provide exactly one of api_token_id and account_user_id")
    if member_id is not None and who.role != "admin":
        raise ApiError(403, "Only an account admin can bind a guardrail to a member")
    row = {"id": new_prefixed_id("gassign"), "account_id": who.account_id, "guardrail_id": guardrail_id,
           "api_key_id": key_id, "membership_id": member_id, "created_by": who.membership_id,
           "created_at": time.time()}
    rt = runtime(request)
    async with rt.db.write() as conn:
        live = await conn.execute(select(guardrails.c.id).where(
            guardrails.c.id == guardrail_id, guardrails.c.account_id == who.account_id,
            guardrails.c.deleted_at.is_(None)))
        if live.first() is None:
            raise not_found()
        if key_id is not None:
            owner = (await conn.execute(select(api_keys.c.membership_id).where(
                api_keys.c.id == key_id, api_keys.c.account_id == who.account_id, api_keys.c.kind == "api",
                api_keys.c.deleted_at.is_(None)))).first()
            if owner is None:
                raise not_found()
            if who.role != "admin" and owner[0] != who.membership_id:
                raise ApiError(403, "You can only bind guardrails to your own API keys")
            target = guardrail_assignments.c.api_key_id == key_id
        else:
            member = (await conn.execute(select(memberships.c.id).where(
                memberships.c.id == member_id, memberships.c.account_id == who.account_id))).first()
            if member is None:
                raise not_found()
            target = guardrail_assignments.c.membership_id == member_id
        if (await conn.execute(select(guardrail_assignments.c.id).where(target))).first() is not None:
            raise ApiError(422, "This target already has a guardrail; delete its assignment first")
        await conn.execute(insert(guardrail_assignments).values(**row))
    rt.guardrails.changed()
    return Json({"guardrail_assignment": assignment_object(row)}, status_code=201)


async def delete_assignment(request: Request) -> Response:
    who = await manager(request)
    rt = runtime(request)
    async with rt.db.write() as conn:
        found = (await conn.execute(select(guardrail_assignments.c.id, guardrail_assignments.c.created_by).where(
            _visible_assignments(who), guardrail_assignments.c.id == request.path_params["id"]))).first()
        if found is None:
            raise not_found()
        if who.role != "admin" and found[1] != who.membership_id:
            # the admin's guardrail on a member's key is the admin's to lift, not the member's
            raise ApiError(403, "Only an account admin can delete an assignment an admin made")
        await conn.execute(delete(guardrail_assignments).where(guardrail_assignments.c.id == found[0]))
    rt.guardrails.changed()
    return Response(status_code=204)


routes = [
    Route("/api/v1/guardrails", list_guardrails, methods=["GET"]),
    Route("/api/v1/guardrails", create_guardrail, methods=["POST"]),
    Route("/api/v1/guardrails/{id}", get_guardrail, methods=["GET"]),
    Route("/api/v1/guardrails/{id}", patch_guardrail, methods=["PATCH"]),
    Route("/api/v1/guardrails/{id}", delete_guardrail, methods=["DELETE"]),
    Route("/api/v1/guardrail_assignments", list_assignments, methods=["GET"]),
    Route("/api/v1/guardrail_assignments", create_assignment, methods=["POST"]),
    Route("/api/v1/guardrail_assignments/{id}", delete_assignment, methods=["DELETE"]),
]
