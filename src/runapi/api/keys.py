"""Management Keys API: GET/POST /api/v1/keys, GET/PATCH/DELETE /api/v1/keys/{id}."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..auth import keys as key_store
from ..auth.keys import ApiKey
from ..domain.times import iso
from ..ratelimit.policy import FIELDS as RATE_FIELDS
from .context import runtime
from .management import (
    body_object,
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


def key_object(key: ApiKey) -> dict[str, Any]:
    return {
        "name": key.name,
        "last_used_at": iso(key.last_used_at),
        "created_at": iso(key.created_at),
        "credit_limit_cents": key.credit_limit_cents,
        "credit_limit_reset_interval": key.credit_limit_reset_interval,
        "allowed_models": list(key.allowed_models) if key.allowed_models else None,
        "enabled": key.enabled,
        "id": key.id,
        "masked_token": key.masked,
        "guardrail_id": key.guardrail_id,
        "rpm_limit": key.rpm_limit,
        "tpm_limit": key.tpm_limit,
        "max_parallel_requests": key.max_parallel_requests,
    }


def key_fields(body: dict[str, Any]) -> dict[str, Any]:
    """The fields a create or update request carried, checked (422 otherwise); the console reads its forms
    into the same JSON shape and checks them here too."""
    return given(
        {
            "name": opt_string(body, "name"),
            "credit_limit_cents": opt_cents(body, "credit_limit_cents"),
            "credit_limit_reset_interval": opt_interval(body),
            "allowed_models": opt_string_list(body, "allowed_models"),
            "enabled": opt_bool(body, "enabled"),
            **{f: opt_rate(body, f) for f in RATE_FIELDS},
        }
    )


async def list_keys(request: Request) -> Json:
    who = await manager(request)
    return Json([key_object(k) for k in await key_store.list_keys(runtime(request).db, who)])


async def create_key(request: Request) -> Json:
    who = await manager(request)
    fields = key_fields(body_object(await json_body(request)))
    key, token = await key_store.create_key(runtime(request).db, who, fields)
    return Json({**key_object(key), "key": token}, status_code=201)  # the token, this once


async def get_key(request: Request) -> Json:
    who = await manager(request)
    db = runtime(request).db
    key = await key_store.get_key(db, who, request.path_params["id"])
    usage = await key_store.key_usage(db, key)
    return Json({**key_object(key), **{f"credit_usage_cents_{label}": v for label, v in usage.items()}})


async def patch_key(request: Request) -> Json:
    who = await manager(request)
    rt = runtime(request)
    key = await key_store.get_key(rt.db, who, request.path_params["id"])
    fields = key_fields(body_object(await json_body(request)))
    if fields:
        key = await key_store.update_key(rt.db, who, key.id, fields)
        rt.authenticate.forget(key.id)  # enabled:false takes effect on the next request
    return Json(key_object(key))


async def delete_key(request: Request) -> Response:
    who = await manager(request)
    rt = runtime(request)
    key = await key_store.delete_key(rt.db, who, request.path_params["id"])
    rt.authenticate.forget(key.id)
    return Response(status_code=204)


routes = [
    Route("/api/v1/keys", list_keys, methods=["GET"]),
    Route("/api/v1/keys", create_key, methods=["POST"]),
    Route("/api/v1/keys/{id}", get_key, methods=["GET"]),
    Route("/api/v1/keys/{id}", patch_key, methods=["PATCH"]),
    Route("/api/v1/keys/{id}", delete_key, methods=["DELETE"]),
]
