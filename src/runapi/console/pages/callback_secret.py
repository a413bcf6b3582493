"""The callback secret and the callback URL allow-list: every member sees both (their tasks' callbacks are signed
with the one and checked against the other); an admin rotates the secret (a new random one, shown at once;
deliveries sign with the secret current when they are sent) and replaces the list (one entry per line, the
rules of PUT /api/v1/me/callback_url_allowlist)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ... import accounts
from ...callbacks import signing
from ...errors import InvalidInput
from ..context import services
from ..session import Viewer
from ..web import form, redirect, render


async def _page(
    request: Request, viewer: Viewer, secret: str | None = None, status: int = 200, **context: Any
) -> Response:
    db = services(request).db
    secret = secret or await accounts.callback_secret(db, viewer.principal)
    context.setdefault("rotated", False)
    context.setdefault("error", None)
    context.setdefault("entries", "\n".join(await accounts.callback_url_allowlist(db, viewer.principal)))
    return await render(
        request,
        "callback_secret.html",
        viewer,
        status=status,
        secret=secret,
        standard_secret=signing.standard_secret(secret),
        saved=request.query_params.get("saved") == "1",
        **context,
    )


async def show(request: Request, viewer: Viewer) -> Response:
    return await _page(request, viewer)


async def rotate(request: Request, viewer: Viewer) -> Response:
    secret = await accounts.rotate_callback_secret(services(request).db, viewer.principal)
    return await _page(request, viewer, secret, rotated=True)


async def set_allowlist(request: Request, viewer: Viewer) -> Response:
    text = str((await form(request)).get("entries") or "")
    try:
        await accounts.set_callback_url_allowlist(services(request).db, viewer.principal, text.splitlines())
    except InvalidInput as exc:
        return await _page(request, viewer, status=422, error=exc.message, entries=text)
    return redirect("/console/callback-secret?saved=1")
