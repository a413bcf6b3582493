"""CSRF protection for every state-changing console request.

The token is derived, not stored: HMAC-SHA256(server secret, purpose + session id). A page puts it in each
form (hidden field `csrf_token`) and in `hx-headers` on <body> (htmx sends it as `X-CSRF-Token`); a POST
without the token of its own session is refused with 403. Another site can make a browser send our cookie
(SameSite=Lax stops most of that already) but cannot read our pages, so it cannot learn the token.

Before sign-in there is no session: the sign-in forms use a random pre-session cookie as the subject
instead, which stops "login CSRF" (a site signing a victim into the attacker's account)."""

from __future__ import annotations

import hashlib
import hmac

FIELD = "csrf_token"
HEADER = "x-csrf-token"


def derive(secret: bytes, purpose: str, subject: str) -> str:
    """The token for one subject (a session id, or a pre-session cookie) and purpose."""
    message = f"runapi-console-csrf\0{purpose}\0{subject}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def session_token(secret: bytes, session_id: str) -> str:
    return derive(secret, "session", session_id)


def presession_token(secret: bytes, presession: str) -> str:
    return derive(secret, "sign-in", presession)


def matches(expected: str, given: str | None) -> bool:
    """Constant-time comparison; a missing or empty token never matches."""
    if not given or not expected:
        return False
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))
