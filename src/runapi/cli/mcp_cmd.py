"""`runapi mcp`: the server's MCP tools over stdio, for MCP hosts that start a command (as the platform's
`npx @runapi.ai/mcp` is started).

It is a bridge, not a second server: each JSON-RPC message from the host goes to the server's /mcp endpoint
(Streamable HTTP, with the key as bearer token) and each answer comes back as it is. So the tools are the
server's own, identical by construction (same list, schemas, results and errors, from the server's version
and catalog), and this process needs neither the database nor a task worker; like the other client
commands it reads the key and base URL from --api-key / RUNAPI_API_KEY / the saved config and
RUNAPI_BASE_URL."""

from __future__ import annotations

import sys
from typing import Any

import click
import httpx

from .client_cmds import api_key_option, credentials

READ_TIMEOUT_SECONDS = 330.0  # above create_task's longest wait (300 s): the answer comes at its end


def check_key(key: str, base: str) -> None:
    """Refuse at start, with a reason, rather than fail every call later: the server must answer and know the key."""
    try:
        resp = httpx.get(f"{base.rstrip('/')}/api/v1/me", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    except httpx.HTTPError as exc:
        raise click.ClickException(f"cannot reach the server at {base}: {exc}") from None
    if resp.status_code != 200:
        raise click.ClickException(f"key rejected by server: HTTP {resp.status_code}")


async def _pump(source: Any, sink: Any, side: str) -> None:
    async for item in source:
        if isinstance(item, Exception):  # a line that is not JSON-RPC, a failed HTTP exchange: say so, go on
            print(f"runapi mcp: {side}: {item}", file=sys.stderr)
            continue
        await sink.send(item)


async def bridge(url: str, key: str) -> None:
    import anyio
    import httpx2
    from mcp.client.streamable_http import streamable_http_client
    from mcp.server.stdio import stdio_server

    timeout = httpx2.Timeout(30.0, read=READ_TIMEOUT_SECONDS)
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=timeout) as http,
        stdio_server() as (from_host, to_host),
        streamable_http_client(url, http_client=http) as (from_server, to_server),
        anyio.create_task_group() as tasks,
    ):

        async def host_to_server() -> None:
            await _pump(from_host, to_server, "host")
            tasks.cancel_scope.cancel()  # the host closed our stdin: it is done with us

        tasks.start_soon(host_to_server)
        tasks.start_soon(_pump, from_server, to_host, "server")


@click.command("mcp")
@api_key_option
def mcp(api_key: str | None) -> None:
    """Serve the server's MCP tools on stdin/stdout (a bridge to its /mcp endpoint)."""
    import anyio

    key, base = credentials(api_key)
    check_key(key, base)
    anyio.run(bridge, f"{base.rstrip('/')}/mcp", key)
