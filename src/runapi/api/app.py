"""The ASGI application: routes from the catalog plus platform routes, one error format, a lifespan that
starts the runtime (database, storage, in-process workers)."""

from __future__ import annotations

import contextlib
import logging
import uuid

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ..catalog import get_catalog
from ..errors import ApiError
from ..settings import Settings
from . import account, files, guardrails, keys, llm_anthropic, llm_gemini, llm_openai, llm_responses, openapi, uploads
from .bootstrap import ensure_bootstrap
from .media import media_routes
from .responses import Json, error_response, llm_error_response
from .runtime import Runtime

log = logging.getLogger("runapi.api")

HTTP_MESSAGES = {404: "Not found", 405: "Method not allowed"}


async def health(request: Request) -> Json:
    return Json({"status": "ok"})


async def api_error(request: Request, exc: Exception) -> Json:
    assert isinstance(exc, ApiError)
    path = request.url.path
    if path.startswith("/v1/") or path.startswith("/v1beta/"):
        return llm_error_response(path, exc)  # each SDK surface gets its own error shape
    structured = path.startswith(("/api/v1/files", "/uploads/"))
    return error_response(exc, structured=structured)


async def http_error(request: Request, exc: Exception) -> Json:
    assert isinstance(exc, HTTPException)
    message = HTTP_MESSAGES.get(exc.status_code, exc.detail or "Error")
    return Json({"error": message}, status_code=exc.status_code, headers=getattr(exc, "headers", None))


async def server_error(request: Request, exc: Exception) -> Json:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return Json({"error": "Internal server error"}, status_code=500)


class RequestId:
    """Echo or assign X-Request-Id so logs and clients can refer to one request."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"")
        rid = incoming[:100] if incoming else uuid.uuid4().hex.encode()

        async def send_with_id(message):  # noqa: ANN001
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid)]
            await send(message)

        await self.app(scope, receive, send_with_id)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        rt = await Runtime.start(settings)
        app.state.runtime = rt
        await ensure_bootstrap(rt)
        try:
            yield
        finally:
            await rt.stop()

    routes = [
        Route("/health", health, methods=["GET"]),
        *account.routes,
        *keys.routes,
        *guardrails.routes,
        *media_routes(get_catalog()),
        *files.routes,
        *uploads.routes,
        *llm_openai.routes,
        *llm_responses.routes,
        *llm_anthropic.routes,
        *llm_gemini.routes,
        *openapi.routes(),
    ]
    app = Starlette(
        routes=routes, lifespan=lifespan,
        exception_handlers={ApiError: api_error, HTTPException: http_error, Exception: server_error},
    )
    app.add_middleware(RequestId)
    return app
