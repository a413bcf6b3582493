"""GET /api/v1/me and /api/v1/me/balance; GET/PUT /api/v1/me/callback_url_allowlist (the account's callback URL
allow-list: every key reads it, an admin's management key replaces it)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from .. import accounts
from ..errors import ApiError
from .context import authenticated, runtime
from .management import body_object, manager
from .responses import Json, json_body


async def me(request: Request) -> Json:
    who = await authenticated(request)
    user, account = await accounts.whoami(runtime(request).db, who)
    return Json(
        {
            "id": user.id,
            "name": user.name,
            "email": user.email,
            "account": {"id": account.id, "name": account.name},
            "role": who.role,
        }
    )


def balance_body(summary: accounts.Balance) -> dict[str, int]:
    """The balance as GET /api/v1/me/balance (and the MCP check_balance tool) show it."""
    # All credits are purchased credits here; the SDKs expect the paid/bonus split as well.
    return {
        "balance_cents": summary.balance_cents,
        "spent_cents_today": summary.spent_cents_today,
        "spent_cents_total": summary.spent_cents_total,
        "paid_balance_cents": summary.balance_cents,
        "bonus_balance_cents": 0,
    }


async def balance(request: Request) -> Json:
    who = await authenticated(request)
    return Json(balance_body(await accounts.balance(runtime(request).db, who.account_id)))


ALLOWLIST = "callback_url_allowlist"


async def get_callback_url_allowlist(request: Request) -> Json:
    who = await authenticated(request)
    return Json({ALLOWLIST: list(await accounts.callback_url_allowlist(runtime(request).db, who))})


async def put_callback_url_allowlist(request: Request) -> Json:
    """Replace the list: `{"callback_url_allowlist": ["hooks.example.com", "https://x.example/cb/"]}`; [] clears it."""
    who = await manager(request)
    body = body_object(await json_body(request))
    if ALLOWLIST not in body:
        raise ApiError(400, f"Missing required parameter: {ALLOWLIST}")
    entries = body[ALLOWLIST]
    if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
        raise ApiError(422, f"Invalid type for {ALLOWLIST}: expected an array of strings")
    kept = await accounts.set_callback_url_allowlist(runtime(request).db, who, entries)
    return Json({ALLOWLIST: list(kept)})


routes = [
    Route("/api/v1/me", me, methods=["GET"]),
    Route("/api/v1/me/balance", balance, methods=["GET"]),
    Route("/api/v1/me/callback_url_allowlist", get_callback_url_allowlist, methods=["GET"]),
    Route("/api/v1/me/callback_url_allowlist", put_callback_url_allowlist, methods=["PUT"]),
]
