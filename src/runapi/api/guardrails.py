"""Guardrails and guardrail assignments APIs (management keys), and the per-request guardrail check."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..auth.keys import INTERVALS
from ..domain.times import iso
from ..errors import ApiError
from ..policy import guardrail_store as store
from ..policy.guardrail_store import LIST_FIELDS, Assignment, Guardrail
from ..ratelimit.policy import FIELDS as RATE_FIELDS
from .context import runtime
from .management import (
    MISSING,
    body_object,
    check_cents,
    given,
    manager,
    opt_bool,
    opt_cents,
    opt_interval,
    opt_rate,
    opt_string,
    opt_string_list,
)
from .responses import Json, json_body


def _list(value: tuple[Any, ...] | None) -> list[Any] | None:
    return list(value) if value else None


def guardrail_object(g: Guardrail) -> dict[str, Any]:
    return {
        "id": g.id,
        "name": g.name,
        "description": g.description,
        "enabled": g.enabled,
        "credit_limit_cents": g.credit_limit_cents,
        "credit_limit_reset_interval": g.credit_limit_reset_interval,
        **{f: _list(getattr(g, f)) for f in LIST_FIELDS},
        "model_budgets": _list(g.model_budgets),
        "rpm_limit": g.rpm_limit,
        "tpm_limit": g.tpm_limit,
        "max_parallel_requests": g.max_parallel_requests,
        "created_at": iso(g.created_at),
        "updated_at": iso(g.updated_at),
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
        budgets.append(
            {
                "match_mode": item["match_mode"],
                "models": models,
                "credit_limit_cents": limit,
                "credit_limit_reset_interval": interval,
            }
        )
    return budgets


def guardrail_fields(body: dict[str, Any]) -> dict[str, Any]:
    """The fields a create or update request carried, checked (422 otherwise); the console reads its forms
    into the same JSON shape and checks them here too."""
    fields = given(
        {
            "name": opt_string(body, "name"),
            "description": opt_string(body, "description", 2000),
            "enabled": opt_bool(body, "enabled"),
            "credit_limit_cents": opt_cents(body, "credit_limit_cents"),
            "credit_limit_reset_interval": opt_interval(body),
            "model_budgets": _model_budgets(body),
            **{f: opt_string_list(body, f) for f in LIST_FIELDS},
            **{f: opt_rate(body, f) for f in RATE_FIELDS},
        }
    )
    if "name" in fields and not (fields["name"] or "").strip():
        raise ApiError(422, "name must not be empty")
    return fields


async def list_guardrails(request: Request) -> Json:
    who = await manager(request)
    return Json({"guardrails": [guardrail_object(g) for g in await store.list_guardrails(runtime(request).db, who)]})


async def create_guardrail(request: Request) -> Json:
    who = await manager(request)
    fields = guardrail_fields(body_object(await json_body(request)))
    if "name" not in fields or fields["name"] is None:
        raise ApiError(400, "Missing required parameter: name")
    guardrail = await store.create_guardrail(runtime(request).db, who, fields)
    return Json({"guardrail": guardrail_object(guardrail)}, status_code=201)


async def get_guardrail(request: Request) -> Json:
    who = await manager(request)
    guardrail = await store.get_guardrail(runtime(request).db, who, request.path_params["id"])
    return Json({"guardrail": guardrail_object(guardrail)})


async def patch_guardrail(request: Request) -> Json:
    who = await manager(request)
    fields = guardrail_fields(body_object(await json_body(request)))
    rt = runtime(request)
    guardrail = await store.update_guardrail(rt.db, who, request.path_params["id"], fields)
    rt.guardrails.changed()
    return Json({"guardrail": guardrail_object(guardrail)})


async def delete_guardrail(request: Request) -> Response:
    """Soft delete: the name becomes free again and every assignment of it goes."""
    who = await manager(request)
    rt = runtime(request)
    await store.delete_guardrail(rt.db, who, request.path_params["id"])
    rt.guardrails.changed()
    return Response(status_code=204)


# ------------------------------------------------------------------------------------------- assignments


def assignment_object(a: Assignment) -> dict[str, Any]:
    return {
        "id": a.id,
        "guardrail_id": a.guardrail_id,
        "api_token_id": a.api_key_id,
        "account_user_id": a.membership_id,
        "created_at": iso(a.created_at),
    }


async def list_assignments(request: Request) -> Json:
    who = await manager(request)
    rows = await store.list_assignments(runtime(request).db, who)
    return Json({"guardrail_assignments": [assignment_object(a) for a in rows]})


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
    rt = runtime(request)
    assignment = await store.create_assignment(rt.db, who, guardrail_id, api_key_id=key_id, membership_id=member_id)
    rt.guardrails.changed()
    return Json({"guardrail_assignment": assignment_object(assignment)}, status_code=201)


async def delete_assignment(request: Request) -> Response:
    who = await manager(request)
    rt = runtime(request)
    await store.delete_assignment(rt.db, who, request.path_params["id"])
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
