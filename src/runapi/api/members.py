"""Account members (management keys): GET/POST /api/v1/members. Admins add members; a member manages only their
own API keys, under the guardrails an admin binds to them (`account_user_id` in guardrail assignments)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from .. import accounts
from ..accounts import Member
from ..auth import admin
from ..domain.times import iso
from ..errors import ApiError
from .context import runtime
from .management import MISSING, body_object, manager, opt_string
from .responses import Json, json_body


def member_object(m: Member) -> dict[str, Any]:
    return {
        "id": m.id,
        "user_id": m.user_id,
        "name": m.name,
        "email": m.email,
        "role": m.role,
        "created_at": iso(m.created_at),
    }


async def list_members(request: Request) -> Json:
    """Admins see every member of the account; a member sees themselves."""
    who = await manager(request)
    return Json({"members": [member_object(m) for m in await accounts.list_members(runtime(request).db, who)]})


async def add_member(request: Request) -> Json:
    """Add a user to the account (`role`: member, the default, or admin) and mint their first management key,
    returned this once, so they can create their own API keys."""
    who = await manager(request)
    if who.role != "admin":
        raise ApiError(403, "Only an account admin can add members")
    body = body_object(await json_body(request))
    email = opt_string(body, "email", 320)
    if email in (MISSING, None):
        raise ApiError(400, "Missing required parameter: email")
    name = opt_string(body, "name")
    role = body.get("role", "member")
    if role not in admin.ROLES:
        raise ApiError(422, f"Invalid value for role: {role!r}. Allowed values: {', '.join(admin.ROLES)}")
    member, key = await accounts.add_member(runtime(request).db, who, email, None if name is MISSING else name, role)
    return Json(
        {
            "member": member_object(member),
            "management_key": {"id": key.id, "key": key.token, "masked_token": key.masked},
        },
        status_code=201,
    )


routes = [
    Route("/api/v1/members", list_members, methods=["GET"]),
    Route("/api/v1/members", add_member, methods=["POST"]),
]
