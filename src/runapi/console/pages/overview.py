"""Overview: the account's balance, what was spent (today, this month, per day, per model), and where to start."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

from ... import accounts
from ...api.context import base_url
from ...auth import keys as key_store
from ...billing.usage import UsageScope
from ..context import services
from ..session import Viewer
from ..spend import spend_overview
from ..web import render


async def overview(request: Request, viewer: Viewer) -> Response:
    rt = services(request)
    balance = await accounts.balance(rt.db, viewer.session.account_id)
    keys = await key_store.list_keys(rt.db, viewer.principal)
    spend = await spend_overview(rt.db, UsageScope.of(viewer.principal), time.time())
    return await render(
        request, "overview.html", viewer, balance=balance, spend=spend, key_count=len(keys), api_base=base_url(request)
    )
