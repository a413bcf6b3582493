"""The MCP side of the tests: the platform's tool contract (contracts/platform_mcp_tools.yaml) and a client of
a server's /mcp endpoint built on the official `mcp` SDK (Streamable HTTP, the caller's key as bearer token)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import yaml
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

PLATFORM_TOOLS: dict[str, dict[str, Any]] = yaml.safe_load(
    (Path(__file__).parent / "contracts" / "platform_mcp_tools.yaml").read_text()
)


def tool_shape(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A tool's input schema reduced to what the contract file states: required names, property types, enums."""
    properties = {
        prop: {k: v for k, v in spec.items() if k in ("type", "enum")} for prop, spec in schema["properties"].items()
    }
    return {"required": sorted(schema.get("required", [])), "properties": properties}


@contextlib.asynccontextmanager
async def mcp_session(base_url: str, key: str | None) -> AsyncIterator[ClientSession]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=120)) as http,
        streamable_http_client(f"{base_url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


async def call(
    session: ClientSession, name: str, arguments: dict[str, Any] | None = None, **kw: Any
) -> tuple[Any, bool]:
    """(the tool's answer: its JSON text parsed, or the text itself; whether it is flagged as an error)"""
    result = await session.call_tool(name, arguments or {}, **kw)
    text = result.content[0].text  # type: ignore[union-attr]
    try:
        return json.loads(text), bool(result.is_error)
    except ValueError:
        return text, bool(result.is_error)
