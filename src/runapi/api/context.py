"""Per-request access to the runtime, the caller and the base URL clients see."""

from __future__ import annotations

from starlette.requests import Request

from ..auth.principal import Principal, bearer_token
from .runtime import Runtime


def runtime(request: Request) -> Runtime:
    return request.app.state.runtime


async def authenticated(request: Request) -> Principal:
    """Bearer or x-api-key everywhere; on Gemini paths also x-goog-api-key or ?key=, as Google's SDKs send."""
    headers = request.headers
    token = bearer_token(headers.get("authorization")) or headers.get("x-api-key")
    if not token and request.url.path.startswith("/v1beta/"):
        token = headers.get("x-goog-api-key") or request.query_params.get("key")
    return await runtime(request).authenticate(token)


def base_url(request: Request) -> str:
    configured = runtime(request).settings.public_url
    return (configured or str(request.base_url)).rstrip("/")
