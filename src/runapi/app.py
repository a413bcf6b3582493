"""The ASGI application: routes from the catalog plus platform routes, one error format, a lifespan that
starts the services (database, storage, in-process workers). It assembles the two web front doors, the API
(runapi.api) and the console (runapi.console, which reuses API helpers), so neither imports the other's app."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from .api import (
    account,
    cli_listen,
    files,
    guardrails,
    keys,
    llm_anthropic,
    llm_gemini,
    llm_openai,
    llm_responses,
    members,
    observability,
    openai_files,
    openai_media,
    openai_uploads,
    openapi,
    pricing,
    prompts,
    providers_admin,
    suno_resources,
    tasks,
    uploads,
    usage,
    webhooks,
)
from .api.bootstrap import ensure_bootstrap
from .api.context import allowed_hosts
from .api.errors import as_api_error
from .api.mcp.http import McpEndpoint
from .api.media import media_routes
from .api.ratelimits import ReleaseSlots, release_slots
from .api.responses import Json, error_response, llm_error_response
from .api.routing import IndexedRouter
from .catalog import get_catalog
from .console.app import console_routes
from .errors import ApiError, RunapiError
from .observability.middleware import RequestObserver, StarletteErrors
from .services import build_services
from .settings import Settings, is_loopback

log = logging.getLogger("runapi.api")

HTTP_MESSAGES = {404: "Not found", 405: "Method not allowed"}


async def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, (ApiError, RunapiError))
    exc = as_api_error(exc)
    path = request.url.path
    if path.startswith("/v1/") or path.startswith("/v1beta/"):
        return llm_error_response(path, exc)  # each SDK surface gets its own error shape
    structured = path.startswith(("/api/v1/files", "/uploads/"))
    return error_response(exc, structured=structured)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = HTTP_MESSAGES.get(exc.status_code, exc.detail or "Error")
    # Routing 404s and 405s in the error shape of the surface the path belongs to, like every other error.
    return await api_error(request, ApiError(exc.status_code, message, headers=dict(exc.headers or {})))


async def server_error(request: Request, exc: Exception) -> Json:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return Json({"error": "Internal server error"}, status_code=500)


async def client_gone(request: Request, exc: Exception) -> Json:
    # The client hung up mid-body (or was cut off by the body timeout): no one reads this, and it is no error.
    return Json({"error": "Client closed the request"}, status_code=400)


class ObservedStarlette(Starlette):
    """Starlette with the RequestObserver outside its ServerErrorMiddleware, so the observer also sees (and
    tags with the request id) the 500 answers that middleware sends for unhandled exceptions. Without
    middleware of its own, the observer is the only layer in front of the router (build_middleware_stack)."""

    def __init__(self, *args: Any, access_log: bool = True, **kwargs: Any) -> None:
        self.access_log = access_log
        super().__init__(*args, **kwargs)
        lifespan = self.router.lifespan_context
        self.router = IndexedRouter(self.router.routes)
        self.router.lifespan_context = lifespan

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        if (
            self.debug
            or self.user_middleware
            or self.max_body_size is not None
            or not isinstance(stack, ServerErrorMiddleware)
        ):
            return RequestObserver(ReleaseSlots(stack), access_log_enabled=self.access_log)
        # One layer for the request's edge: the observer answers what escapes the router as Starlette's two
        # error layers would (the very middlewares, built by Starlette, lend it their handlers) and releases
        # the rate-limit slots itself; the full stack still serves lifespan and websocket scopes.
        handling = stack.app
        assert isinstance(handling, ExceptionMiddleware) and handling.app is self.router
        return RequestObserver(
            self.router,
            access_log_enabled=self.access_log,
            errors=StarletteErrors(stack, handling),
            finish=release_slots,
            fallback=stack,
        )


def warn_about_exposure(settings: Settings) -> None:
    """Settings that are fine on 127.0.0.1 but not on an address others reach."""
    if is_loopback(settings.host):
        return
    if not settings.public_url:
        log.warning(
            "RUNAPI_PUBLIC_URL is not set and the server is bound to %s: links are built from the "
            "request's Host only for RUNAPI_ALLOWED_HOSTS (%s), else from the address a connection "
            "arrived at; set RUNAPI_PUBLIC_URL to the address clients use",
            settings.host,
            ", ".join(sorted(allowed_hosts(settings))) or "none",
        )
    if not settings.metrics_token:
        log.warning(
            "RUNAPI_METRICS_TOKEN is not set and the server is bound to %s: /metrics answers 403 until a token is set",
            settings.host,
        )


FREEZE_AFTER_SECONDS = 1.0  # the start-up heap is frozen this long after serving starts, not before the first 200


def freeze_startup_heap() -> None:
    """Move everything alive after start-up (modules, routes, catalog, services: ~all of the heap) into the
    collector's permanent generation. Those objects live as long as the process, yet every full collection
    would traverse them again; frozen, the collector only walks what requests allocate. A collection first,
    so start-up's garbage is freed rather than frozen. Only for the server's own process (`runapi serve`):
    in a process that builds app after app (the tests), objects frozen with one app and released later could
    never be collected. The collection walks the whole heap (~0.07 s of CPU, more after migrations), so the
    lifespan runs this FREEZE_AFTER_SECONDS after the server starts rather than before its first answer."""
    gc.collect()
    gc.freeze()
    gc.enable()  # (`runapi serve` turns the collector off while it imports and starts: cli/server_cmds.py)


def create_app(settings: Settings | None = None, *, freeze_heap: bool = False) -> Starlette:
    settings = settings or Settings()
    mcp = McpEndpoint(get_catalog())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        rt = await build_services(settings)
        app.state.runtime = rt  # the app owns its services: built here, stopped on the way out
        warn_about_exposure(settings)
        await ensure_bootstrap(rt)
        freezing = (
            asyncio.get_running_loop().call_later(FREEZE_AFTER_SECONDS, freeze_startup_heap) if freeze_heap else None
        )
        try:
            async with mcp.running():  # stops the MCP sessions' task group, if a request started it
                yield
        finally:
            if freezing is not None:
                freezing.cancel()
            await rt.stop()

    routes = [
        *observability.routes(),
        *account.routes,
        *usage.routes,
        *prompts.routes,
        *keys.routes,
        *members.routes,
        *guardrails.routes,
        *pricing.routes,
        *cli_listen.routes,  # `runapi listen`
        *tasks.routes,
        *media_routes(get_catalog()),
        *tasks.family_routes(get_catalog()),
        *suno_resources.routes,  # the platform SDK's Suno resources over the suno actions
        *files.routes,
        *uploads.routes,
        *openai_files.routes,
        *openai_uploads.routes,
        *llm_openai.routes,
        *llm_responses.routes,
        *llm_anthropic.routes,
        *llm_gemini.routes,
        *openai_media.routes,
        *webhooks.routes,
        *providers_admin.routes,  # the operator's view of the media upstreams
        *openapi.routes(),
        Route("/mcp", mcp, name="mcp"),  # MCP over Streamable HTTP (api/mcp)
        *console_routes(),  # the web console (HTML pages, not in the OpenAPI document)
    ]
    return ObservedStarlette(
        routes=routes,
        lifespan=lifespan,
        access_log=settings.access_log,
        exception_handlers={
            ApiError: api_error,
            RunapiError: api_error,
            HTTPException: http_error,
            ClientDisconnect: client_gone,
            Exception: server_error,
        },
    )
