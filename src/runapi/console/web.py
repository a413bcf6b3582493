"""What every console page shares: the signed-in check, the CSRF check on POST, roles, rendering, and errors
as pages (not the API's JSON).

A handler is written as `async def handler(request, viewer) -> Response` and wrapped with `page(...)`:
without a live session a browser is sent to the sign-in page (htmx requests get an HX-Redirect); a POST whose
CSRF token is not its session's is refused with 403 before the handler runs; a domain refusal raised by a
service (runapi.errors) becomes an error page with the status the API would have answered."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ..api.errors import http_status
from ..auth.console_sessions import memberships_of
from ..errors import ApiError, RunapiError
from . import csrf
from .context import services, state
from .nav import nav_for
from .session import Viewer, current_session, viewer_for
from .templating import render as render_template

Handler = Callable[[Request, Viewer], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]

MAX_FORM_FIELDS = 300
MAX_FORM_FILES = 20


class Refused(Exception):
    """A page-level refusal with its status (403 role, 404 unknown page), shown as an error page."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def redirect(url: str, request: Request | None = None) -> Response:
    """303 to `url` (after a POST: the browser GETs it); for htmx, an HX-Redirect it follows."""
    if request is not None and is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def to_sign_in(request: Request) -> Response:
    back = request.url.path if request.method == "GET" else "/console/"
    return redirect(f"/console/sign-in?next={quote(back, safe='/')}", request)


async def form(request: Request) -> FormData:
    """The request's form, parsed once (bounded: fields, files)."""
    return await request.form(max_files=MAX_FORM_FILES, max_fields=MAX_FORM_FIELDS)


async def submitted_csrf(request: Request) -> str | None:
    header = request.headers.get(csrf.HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await form(request)).get(csrf.FIELD)
        return value if isinstance(value, str) else None
    return None


async def render(
    request: Request, template: str, viewer: Viewer | None, status: int = 200, **context: Any
) -> HTMLResponse:
    base: dict[str, Any] = {
        "viewer": viewer,
        "request_path": request.url.path,
        "nav": [],
        "memberships": [],
        "htmx": is_htmx(request),
    }
    if viewer is not None:
        base["nav"] = nav_for(viewer, request.url.path)
        if not is_htmx(request):  # (partials have no header to switch accounts in)
            base["memberships"] = await memberships_of(services(request).db, viewer.session.user_id)
    html = render_template(state(request).templates, template, {**base, **context})
    return HTMLResponse(html, status_code=status)


async def error_page(request: Request, viewer: Viewer | None, status: int, message: str) -> HTMLResponse:
    template = "partials/error.html" if is_htmx(request) else "error.html"
    response = await render(request, template, viewer, status=status, status_code=status, message=message)
    if is_htmx(request):
        response.headers["HX-Retarget"] = "#flash"  # htmx swaps error answers only when told where
        response.headers["HX-Reswap"] = "innerHTML"
    return response


def refusal_status(exc: RunapiError | ApiError) -> int:
    return exc.status if isinstance(exc, ApiError) else http_status(exc)


def page(handler: Handler, *, operator: bool = False) -> Endpoint:
    """Wrap a handler: signed in, CSRF-checked on POST, operator-only when asked, refusals as pages. (What an
    admin or a member may do is decided by the services the handler calls, as for the API.)"""

    async def endpoint(request: Request) -> Response:
        session = await current_session(request)
        if session is None:
            return to_sign_in(request)
        viewer = viewer_for(request, session)
        if request.method == "POST" and not csrf.matches(viewer.csrf_token, await submitted_csrf(request)):
            return await error_page(
                request,
                viewer,
                403,
                "This form has expired or did not come from this "
                "console (CSRF check failed). Reload the page and retry.",
            )
        if operator and not viewer.is_operator:
            return await error_page(request, viewer, 403, "Only the instance operator can open this page.")
        try:
            return await handler(request, viewer)
        except Refused as exc:
            return await error_page(request, viewer, exc.status, exc.message)
        except (RunapiError, ApiError) as exc:
            return await error_page(request, viewer, refusal_status(exc), exc.message)

    return endpoint
