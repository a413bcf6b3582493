"""Sign-in (email + password, or a one-time link), sign-out and the account switcher.

Sign-in forms carry a CSRF token bound to a pre-session cookie (no session exists yet). Failed password
attempts are counted per email and per client address (throttle.py); past the limit the form answers 429
with Retry-After, whatever the password. The one-time link is opened with GET, which only shows a button:
using the link is the POST behind it, so a mail scanner that fetches links does not spend it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ...auth import console_sessions
from ...auth.passwords import verify_credentials
from .. import csrf
from ..context import services, state
from ..session import (
    PRESESSION_COOKIE,
    PRESESSION_SECONDS,
    SESSION_COOKIE,
    Viewer,
    clear_cookie,
    current_session,
    presession,
    secret,
    set_cookie,
    set_session_cookie,
)
from ..web import form, redirect, render

HOME = "/console/overview"
BAD_CREDENTIALS = "Email or password is incorrect."
BAD_LINK = "This sign-in link is invalid, used or expired. Ask for a new one (runapi admin login-link)."


def safe_next(value: object) -> str:
    """Where to go after signing in: a console path only (never another site: //evil.example, /\\evil)."""
    if isinstance(value, str) and value.startswith("/console/") and "//" not in value and "\\" not in value:
        return value
    return HOME


async def _form_page(request: Request, template: str, status: int = 200, **context: object) -> Response:
    value, new = presession(request)
    token = csrf.presession_token(secret(request), value)
    response = await render(request, template, None, status=status, csrf_token=token, **context)
    if new:
        set_cookie(request, response, PRESESSION_COOKIE, value, PRESESSION_SECONDS)
    return response


async def _presession_ok(request: Request) -> bool:
    value = request.cookies.get(PRESESSION_COOKIE, "")
    submitted = (await form(request)).get(csrf.FIELD)
    return bool(value) and csrf.matches(
        csrf.presession_token(secret(request), value), submitted if isinstance(submitted, str) else None
    )


async def sign_in_page(request: Request) -> Response:
    if await current_session(request) is not None:
        return redirect(safe_next(request.query_params.get("next")))
    return await _form_page(
        request, "sign_in.html", next=safe_next(request.query_params.get("next")), email="", error=None
    )


async def sign_in(request: Request) -> Response:
    data = await form(request)
    email = str(data.get("email") or "").strip()[:320]
    password = str(data.get("password") or "")
    target = safe_next(data.get("next"))
    if not await _presession_ok(request):
        return await _form_page(
            request, "sign_in.html", 403, next=target, email=email, error="The sign-in form expired. Please try again."
        )
    throttle = state(request).throttle
    address = request.client.host if request.client else "unknown"
    wait = throttle.blocked_for(email, address)
    if wait is not None:
        response = await _form_page(
            request,
            "sign_in.html",
            429,
            next=target,
            email=email,
            error=f"Too many failed attempts. Try again in {max(1, wait // 60)} minute(s).",
        )
        response.headers["Retry-After"] = str(wait)
        return response
    user = await verify_credentials(services(request).db, email, password) if email and password else None
    token = await console_sessions.create_session(services(request).db, user.id) if user else None
    if token is None:
        throttle.failed(email, address)
        return await _form_page(request, "sign_in.html", 401, next=target, email=email, error=BAD_CREDENTIALS)
    throttle.succeeded(email)
    response = redirect(target)
    set_session_cookie(request, response, token)
    return response


async def link_page(request: Request) -> Response:
    token = request.query_params.get("token", "")
    found = await console_sessions.login_link_user(services(request).db, token)
    response = await _form_page(
        request,
        "sign_in_link.html",
        200 if found else 404,
        token=token if found else "",
        email=found[0] if found else None,
        error=None if found else BAD_LINK,
    )
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in this page's URL
    return response


async def redeem_link(request: Request) -> Response:
    data = await form(request)
    if not await _presession_ok(request):
        return await _form_page(
            request,
            "sign_in_link.html",
            403,
            token="",
            email=None,
            error="The sign-in form expired. Open the link again.",
        )
    session_token = await console_sessions.redeem_login_link(services(request).db, str(data.get("token") or ""))
    if session_token is None:
        return await _form_page(request, "sign_in_link.html", 404, token="", email=None, error=BAD_LINK)
    response = redirect(HOME)
    set_session_cookie(request, response, session_token)
    return response


async def sign_out(request: Request, viewer: Viewer) -> Response:
    """Ends the session server-side (a POST with the session's CSRF token: no other site signs people out)."""
    await console_sessions.end_session(services(request).db, viewer.session.id)
    response = redirect("/console/sign-in")
    clear_cookie(request, response, SESSION_COOKIE)
    return response


async def switch_account(request: Request, viewer: Viewer) -> Response:
    """Act in another account the user belongs to (the header's account switcher)."""
    data = await form(request)
    await console_sessions.switch_account(services(request).db, viewer.session, str(data.get("membership_id") or ""))
    return redirect(HOME)
