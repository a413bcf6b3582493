"""The callback secret: every member sees it (their tasks' callbacks are signed with it); an admin rotates it
(a new random secret, shown at once; deliveries sign with the secret current when they are sent)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ... import accounts
from ..context import services
from ..session import Viewer
from ..web import render


async def show(request: Request, viewer: Viewer) -> Response:
    secret = await accounts.callback_secret(services(request).db, viewer.principal)
    return await render(request, "callback_secret.html", viewer, secret=secret, rotated=False)


async def rotate(request: Request, viewer: Viewer) -> Response:
    secret = await accounts.rotate_callback_secret(services(request).db, viewer.principal)
    return await render(request, "callback_secret.html", viewer, secret=secret, rotated=True)
