"""The MCP server object (the `mcp` SDK's low-level `Server`): lists the tools of tools.py and runs a call
through its handler. A result is the platform's: the JSON object as indented text, and for `create_task` the
same object as structured content, flagged as an error when it holds one."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server

from ...catalog import Catalog
from ...errors import RunapiError
from ...version import version
from . import handlers
from .contract import Contract
from .handlers import Caller, Progress, friendly_error
from .tools import TOOLS, TOOLS_BY_NAME, ToolArgumentError, checked_arguments

SERVER_NAME = "runapi"
INSTRUCTIONS = """\
This self-hosted RunAPI server exposes its model catalog and media tasks.

- list_models, list_actions, get_model_info, check_pricing and search_prompts read the catalog; use them to
  choose a service, action and model and to learn its fields and input_rules before creating a task.
- create_task runs one request with a new opaque idempotency_key per logical task (reuse it only to retry
  that same input). With wait=true (the default) it returns the finished task; if the wait deadline is
  reached the task keeps running: continue with get_task, never create a replacement.
- get_task reads a task by service, task_id and optionally action; check_balance shows the credits left.
- Prices are integer cents. Present results as task id, status and output URLs."""

CallerOf = Callable[[ServerRequestContext[Any, Any]], Caller]
ToolResult = dict[str, Any]


def server_version() -> str:
    return version()


def tool_result(value: ToolResult, *, structured: bool = False) -> types.CallToolResult:
    text = json.dumps(value, indent=2, ensure_ascii=False)
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)],
        structured_content=value if structured else None,
        is_error=structured and "error" in value,
    )


def refused_call(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=message)], is_error=True)


def progress_reporter(ctx: ServerRequestContext[Any, Any]) -> Progress | None:
    """Progress notifications for a call, when its client asked for them (a progress token in `_meta`)."""
    token = (ctx.meta or {}).get("progress_token")
    if token is None:
        return None

    async def report(progress: float, total: float, message: str) -> None:
        params = types.ProgressNotificationParams(progress_token=token, progress=progress, total=total, message=message)
        # on the call's own response stream (stateless HTTP has no other)
        await ctx.session.send_notification(
            types.ProgressNotification(params=params), related_request_id=ctx.request_id
        )

    return report


async def run_tool(
    name: str, args: dict[str, Any], contract: Contract, caller_of: CallerOf, ctx: ServerRequestContext[Any, Any]
) -> ToolResult:
    if name == "list_models":
        return handlers.list_models(contract, args)
    if name == "get_model_info":
        return handlers.get_model_info(contract, args)
    if name == "list_actions":
        return handlers.list_actions(contract)
    if name == "check_pricing":
        return handlers.check_pricing(contract, args)
    if name == "search_prompts":
        return handlers.search_prompts(args)
    caller = caller_of(ctx)
    if name == "check_balance":
        return await handlers.check_balance(caller)
    if name == "create_task":
        return await handlers.create_task(caller, contract, args, progress_reporter(ctx))
    if name == "get_task":
        return await handlers.get_task(caller, contract, args)
    raise AssertionError(f"tool {name} has no handler")  # TOOLS and this dispatch list the same names


def build_server(catalog: Catalog, caller_of: CallerOf) -> Server[Any]:
    """The tools over `catalog`; `caller_of` says who makes a call (the transport knows: an HTTP request's key)."""
    contract = Contract(catalog)
    listed = types.ListToolsResult(
        tools=[types.Tool(name=t.name, description=t.description, input_schema=t.input_schema) for t in TOOLS]
    )

    async def list_tools(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return listed

    async def call_tool(
        ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        tool = TOOLS_BY_NAME.get(params.name)
        if tool is None:
            return refused_call(f"Tool {params.name} not found")
        try:
            args = checked_arguments(tool, params.arguments)
        except ToolArgumentError as exc:
            return refused_call(f"Input validation error: Invalid arguments for tool {tool.name}: {exc}")
        try:
            value = await run_tool(tool.name, args, contract, caller_of, ctx)
        except RunapiError as exc:  # a refusal is the tool's answer, never a failed session
            value = {"error": friendly_error(exc)}
        return tool_result(value, structured=tool.name == "create_task")

    return Server(
        SERVER_NAME,
        version=server_version(),
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )
