"""Account members (management keys): GET/POST /api/v1/members. Admins add members; a member manages only their
own API keys, under the guardrails an admin binds to them (`account_user_id` in guardrail assignments)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from ..auth import admin
from ..errors import ApiError
from .context import runtime
from .management import MISSING, body_object, iso, manager, opt_string
from .responses import Json, json_body


def member_object(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "user_id": row["user_id"], "name": row["name"], "email": row["email"],
            "role": row["role"], "created_at": iso(row["created_at"])}


async def list_members(request: Request) -> Json:
    """Admins see every member of the account; a member sees themselves."""
    who = await manager(request)
    rows = await admin.list_members(runtime(request).db, who.account_id,
                                    None if who.role == "admin" else who.membership_id)
    return Json({"members": [member_object(r) for r in rows]})


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
    db = runtime(request).db
    try:
        member = await admin.add_member(db, who.account_id, email, None if name is MISSING else name, role)
    except ValueError as exc:
        raise ApiError(422, str(exc)) from None
    key = await admin.mint_key(db, who.account_id, "management", name=f"{member['email']} management",
                               membership_id=member["id"])
    return Json({"member": member_object(member),
                 "management_key": {"id": key.id, "key": key.token, "masked_token": key.masked}}, status_code=201)


routes = [
    Route("/api/v1/members", list_members, methods=["GET"]),
    Route("/api/v1/members", add_member, methods=["POST"]),
]
