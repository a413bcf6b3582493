"""GET /api/v1/me and /api/v1/me/balance."""

from __future__ import annotations

from sqlalchemy import select
from starlette.requests import Request
from starlette.routing import Route

from ..billing.ledger import balance_summary
from ..store.schema import accounts, users
from .context import authenticated, runtime
from .responses import Json


async def me(request: Request) -> Json:
    who = await authenticated(request)
    async with runtime(request).db.read() as conn:
        user = (await conn.execute(select(users).where(users.c.id == who.user_id))).mappings().one()
        account = (await conn.execute(select(accounts.c.id, accounts.c.name)
                                      .where(accounts.c.id == who.account_id))).mappings().one()
    return Json({"id": user["id"], "name": user["name"], "email": user["email"],
                 "account": {"id": account["id"], "name": account["name"]}, "role": who.role})


async def balance(request: Request) -> Json:
    who = await authenticated(request)
    async with runtime(request).db.read() as conn:
        summary = await balance_summary(conn, who.account_id)
    # All credits are purchased credits here; the SDKs expect the paid/bonus split as well.
    return Json({**summary, "paid_balance_cents": summary["balance_cents"], "bonus_balance_cents": 0})


routes = [Route("/api/v1/me", me, methods=["GET"]), Route("/api/v1/me/balance", balance, methods=["GET"])]
