"""Overview: the account's balance and what was spent, and where to start."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ... import accounts
from ...api.context import base_url
from ...auth import keys as key_store
from ..context import services
from ..session import Viewer
from ..web import render


async def overview(request: Request, viewer: Viewer) -> Response:
    rt = services(request)
    balance = await accounts.balance(rt.db, viewer.session.account_id)
    keys = await key_store.list_keys(rt.db, viewer.principal)
    return await render(
        request, "overview.html", viewer, balance=balance, key_count=len(keys), api_base=base_url(request)
    )
