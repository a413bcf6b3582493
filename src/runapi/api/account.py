"""GET /api/v1/me and /api/v1/me/balance."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from .. import accounts
from .context import authenticated, runtime
from .responses import Json


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


routes = [Route("/api/v1/me", me, methods=["GET"]), Route("/api/v1/me/balance", balance, methods=["GET"])]
