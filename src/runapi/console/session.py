"""The console's session cookie and who is signed in.

`runapi_session` carries a random token (only its hash is stored: auth/console_sessions.py). It is HttpOnly
(scripts cannot read it), SameSite=Lax (other sites' forms do not send it) and Secure — except on plain http
to a loopback host (http://127.0.0.1:8000, http://localhost:8000), where a browser would otherwise drop it and
a local install could not sign in. Anywhere else the console needs https (directly or through a proxy that
terminates TLS), which is where a password and a session belong anyway."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from ..auth.console_sessions import SESSION_SECONDS, ConsoleSession, resolve_session
from ..auth.principal import Principal
from ..settings import is_loopback
from . import csrf
from .context import services

SESSION_COOKIE = "runapi_session"
PRESESSION_COOKIE = "runapi_presession"  # the sign-in forms' CSRF subject, before any session exists
PRESESSION_SECONDS = 3600
COOKIE_PATH = "/console"
_UNSET = object()


def cookie_secure(request: Request) -> bool:
    """Secure everywhere but plain http to a loopback host."""
    return not (request.url.scheme == "http" and is_loopback(request.url.hostname or ""))


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path=COOKIE_PATH, secure=cookie_secure(request), httponly=True, samesite="lax"
    )


def clear_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(name, path=COOKIE_PATH, secure=cookie_secure(request), httponly=True, samesite="lax")


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    set_cookie(request, response, SESSION_COOKIE, token, SESSION_SECONDS)


def presession(request: Request) -> tuple[str, bool]:
    """The browser's pre-session value, or a new one: (value, is_new — the response must set the cookie)."""
    value = request.cookies.get(PRESESSION_COOKIE, "")
    if 20 <= len(value) <= 100:
        return value, False
    return secrets.token_urlsafe(24), True


def secret(request: Request) -> bytes:
    return services(request).settings.resolved_secret_key


async def current_session(request: Request) -> ConsoleSession | None:
    """The live session of this request's cookie (looked up once per request)."""
    cached = getattr(request.state, "console_session", _UNSET)
    if cached is None or isinstance(cached, ConsoleSession):
        return cached
    found = await resolve_session(services(request).db, request.cookies.get(SESSION_COOKIE))
    request.state.console_session = found
    return found


@dataclass(frozen=True)
class Viewer:
    """The signed-in member a page is rendered for, with the CSRF token of their session."""

    session: ConsoleSession
    csrf_token: str

    @property
    def is_admin(self) -> bool:
        return self.session.role == "admin"

    @property
    def is_operator(self) -> bool:
        return self.session.is_operator

    @property
    def principal(self) -> Principal:
        """The member as the management services see a management key of theirs: the same role, the same
        rules (auth/keys.py, policy/guardrail_store.py decide what a member may do, for both doors)."""
        s = self.session
        return Principal(
            key_id=f"console:{s.id}",
            account_id=s.account_id,
            membership_id=s.membership_id,
            user_id=s.user_id,
            role=s.role,
            kind="management",
            allowed_models=None,
            credit_limit_cents=None,
            credit_limit_reset_interval=None,
        )


def viewer_for(request: Request, session: ConsoleSession) -> Viewer:
    return Viewer(session, csrf.session_token(secret(request), session.id))
