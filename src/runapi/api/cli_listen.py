"""The local callback listener's HTTP (`runapi listen`), as the platform CLI calls it (runapi-ai/cli@
cmd/runapi/listen.go; the API key in X-API-Key or as a Bearer token, the session in X-Session-Token):

  GET    /api/v1/cli/listen_secret                → {"listen_secret"}: the secret the events are signed with
  POST   /api/v1/cli/listen_sessions              → 201 {"session_token", "listen_secret"}
  DELETE /api/v1/cli/listen_sessions/{token}      → 204
  GET    /api/v1/cli/listen_events?last_id=&wait= → {"events": [{"id", "task_id", "signed_body", "headers"}]}
  POST   /api/v1/cli/listen_events/{id}/ack       → 204

An unknown or expired session is a 404 (the CLI then opens a new one and starts again from last_id=0). The
rules live in callbacks/listen.py."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..callbacks import listen
from ..errors import InvalidInput, NotFound
from .context import authenticated, runtime
from .responses import Json

_DIGITS = re.compile(r"[0-9]{1,18}")
_WAIT = re.compile(r"[0-9]{1,3}(\.[0-9]{1,3})?")


def _session_token(request: Request) -> str:
    token = request.headers.get("x-session-token", "").strip()
    if not token or len(token) > 200:
        raise session_gone()
    return token


def session_gone() -> NotFound:
    return NotFound("Listen session not found or expired: open a new one", code="listen_session_not_found")


def _last_id(request: Request) -> int:
    raw = request.query_params.get("last_id", "0")
    if not _DIGITS.fullmatch(raw):
        raise InvalidInput("last_id must be a non-negative integer")
    return int(raw)


def _wait(request: Request) -> float:
    raw = request.query_params.get("wait")
    if raw is None:
        return listen.DEFAULT_WAIT_SECONDS
    if not _WAIT.fullmatch(raw) or float(raw) > listen.MAX_WAIT_SECONDS:
        raise InvalidInput(f"wait must be a number of seconds between 0 and {listen.MAX_WAIT_SECONDS:g}")
    return float(raw)


async def listen_secret(request: Request) -> Json:
    who = await authenticated(request)
    return Json({"listen_secret": await listen.callback_secret(runtime(request).db, who.account_id)})


async def create_session(request: Request) -> Json:
    who = await authenticated(request)
    db = runtime(request).db
    token = await listen.open_session(db, who.account_id)
    secret = await listen.callback_secret(db, who.account_id)
    return Json(
        {"session_token": token, "listen_secret": secret, "idle_timeout_seconds": int(listen.SESSION_IDLE_SECONDS)},
        status_code=201,
    )


async def destroy_session(request: Request) -> Response:
    who = await authenticated(request)
    if not await listen.close_session(runtime(request).db, who.account_id, request.path_params["token"]):
        raise session_gone()
    return Response(status_code=204)


async def events(request: Request) -> Json:
    who = await authenticated(request)
    token = _session_token(request)
    last_id, wait = _last_id(request), _wait(request)
    db = runtime(request).db
    found = await listen.poll(db, who.account_id, token, last_id, wait)
    if found is None:
        raise session_gone()
    secret = await listen.callback_secret(db, who.account_id) if found else ""
    return Json({"events": [listen.signed(e, secret) for e in found]})


async def ack_event(request: Request) -> Response:
    who = await authenticated(request)
    db = runtime(request).db
    if not await listen.touch_session(db, who.account_id, _session_token(request)):
        raise session_gone()
    raw = request.path_params["event_id"]
    if not _DIGITS.fullmatch(raw) or not await listen.ack(db, who.account_id, int(raw)):
        raise NotFound("Listen event not found", code="listen_event_not_found")
    return Response(status_code=204)


routes = [
    Route("/api/v1/cli/listen_secret", listen_secret, methods=["GET"]),
    Route("/api/v1/cli/listen_sessions", create_session, methods=["POST"]),
    Route("/api/v1/cli/listen_sessions/{token}", destroy_session, methods=["DELETE"]),
    Route("/api/v1/cli/listen_events", events, methods=["GET"]),
    Route("/api/v1/cli/listen_events/{event_id}/ack", ack_event, methods=["POST"]),
]
