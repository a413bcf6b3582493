"""`/mcp`: the MCP server over Streamable HTTP, for the caller's API key.

Every HTTP request is authenticated as the REST API's are (`Authorization: Bearer`, or `x-api-key`); one
without a valid key is refused before MCP sees it, with 401 and `{"error": "Unauthorized"}` as anywhere else.
The principal rides in the ASGI scope to the tool handlers, which read it off the request the SDK hands them.

Stateless mode: each POST is a whole exchange with no server-side session, so any process behind the
port (`runapi serve --workers N`, several hosts behind a balancer) can answer any request of a client, and
nothing is lost when a process restarts. What it gives up is what these tools never use: server-to-client
requests (sampling, elicitation), the standalone GET stream and resumable streams. A `create_task` that waits
still streams its progress notifications and result as SSE on the POST's own response."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from ...auth.principal import Principal
from ...catalog import Catalog
from ...errors import RunapiError, Unauthenticated
from ..context import authenticated, base_url, runtime
from ..errors import as_api_error
from ..responses import error_response
from .handlers import Caller

if TYPE_CHECKING:  # the MCP SDK is imported by the first /mcp request (~0.3 s of start-up otherwise)
    from mcp.server.context import ServerRequestContext
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

PRINCIPAL_KEY = "runapi.principal"  # where the authenticated caller waits in the ASGI scope


def caller_of(ctx: ServerRequestContext[Any, Any]) -> Caller:
    request = ctx.request
    if not isinstance(request, Request) or not isinstance(request.scope.get(PRINCIPAL_KEY), Principal):
        raise Unauthenticated()  # not through McpEndpoint: no key was checked
    return Caller(runtime(request), request.scope[PRINCIPAL_KEY], base_url(request))


class McpEndpoint:
    """The ASGI app mounted at /mcp; `running()` must enclose its use (the app's lifespan enters it).

    The SDK's session manager is built and started by the first authenticated request, not at start-up:
    importing the SDK costs ~0.3 s of CPU and ~15 MB that a server nobody asks over MCP never needs. It runs
    in a task of its own (its task group must outlive any one request) until `running()` exits."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self._ready: asyncio.Future[StreamableHTTPSessionManager] | None = None
        self._stop = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        try:
            yield
        finally:
            runner, self._runner, self._ready = self._runner, None, None
            if runner is not None:  # started by a request: stop its sessions' task group as the app stops
                self._stop.set()
                await runner
                self._stop = asyncio.Event()

    async def manager(self) -> StreamableHTTPSessionManager:
        """The running session manager, started by the first call (callers that arrive meanwhile wait for it)."""
        if self._ready is None:  # (no await between the check and the assignment: one start)
            self._ready = asyncio.get_running_loop().create_future()
            # A fresh context: the manager's tasks must not inherit the first request's context variables.
            self._runner = asyncio.create_task(self._run(self._ready, self._stop), context=contextvars.Context())
        return await asyncio.shield(self._ready)  # a caller that goes away does not cancel the start

    async def _run(self, ready: asyncio.Future[StreamableHTTPSessionManager], stop: asyncio.Event) -> None:
        try:
            from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

            from .server import build_server

            manager = StreamableHTTPSessionManager(build_server(self.catalog, caller_of), stateless=True)
            async with manager.run():
                ready.set_result(manager)
                await stop.wait()
        except Exception as exc:
            if ready.done():
                raise  # (out of the app's lifespan, as before)
            ready.set_exception(exc)  # a failed start: the waiting requests (and later ones) get the error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            scope[PRINCIPAL_KEY] = await authenticated(Request(scope, receive))
        except RunapiError as exc:
            await error_response(as_api_error(exc))(scope, receive, send)
            return
        await (await self.manager()).handle_request(scope, receive, send)
