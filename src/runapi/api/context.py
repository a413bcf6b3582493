"""Per-request access to the runtime, the caller and the base URL clients see."""

from __future__ import annotations

from starlette.requests import Request

from ..auth.principal import Principal, bearer_token
from .runtime import Runtime


def runtime(request: Request) -> Runtime:
    return request.app.state.runtime


async def authenticated(request: Request) -> Principal:
    token = bearer_token(request.headers.get("authorization")) or request.headers.get("x-api-key")
    return await runtime(request).authenticate(token)


def base_url(request: Request) -> str:
    configured = runtime(request).settings.public_url
    return (configured or str(request.base_url)).rstrip("/")
