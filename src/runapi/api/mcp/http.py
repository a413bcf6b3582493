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

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from ...auth.principal import Principal
from ...catalog import Catalog
from ...errors import RunapiError, Unauthenticated
from ..context import authenticated, base_url, runtime
from ..errors import as_api_error
from ..responses import error_response
from .handlers import Caller
from .server import build_server

PRINCIPAL_KEY = "runapi.principal"  # where the authenticated caller waits in the ASGI scope


def caller_of(ctx: ServerRequestContext[Any, Any]) -> Caller:
    request = ctx.request
    if not isinstance(request, Request) or not isinstance(request.scope.get(PRINCIPAL_KEY), Principal):
        raise Unauthenticated()  # not through McpEndpoint: no key was checked
    return Caller(runtime(request), request.scope[PRINCIPAL_KEY], base_url(request))


class McpEndpoint:
    """The ASGI app mounted at /mcp; `running()` must enclose its use (the app's lifespan enters it)."""

    def __init__(self, catalog: Catalog):
        self.manager = StreamableHTTPSessionManager(build_server(catalog, caller_of), stateless=True)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with self.manager.run():
            yield

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            scope[PRINCIPAL_KEY] = await authenticated(Request(scope, receive))
        except RunapiError as exc:
            await error_response(as_api_error(exc))(scope, receive, send)
            return
        await self.manager.handle_request(scope, receive, send)
