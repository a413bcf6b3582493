"""Anthropic-compatible surface: /v1/messages (JSON and SSE) and /v1/messages/count_tokens.

Requests are translated to the canonical (OpenAI-shaped) ChatRequest, served by the generic chat handler, and
translated back by the protocol (llm/anthropic/surface.py)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..auth.principal import Principal
from ..llm.anthropic import surface as fmt
from ..llm.surface import ChatCall
from ..llm.tokens import messages_tokens
from .llm_common import caller, count_upstream, resolve_model, serve_chat
from .responses import Json, json_body


async def _parse_messages(request: Request, who: Principal) -> ChatCall:
    return fmt.MessagesCall(await json_body(request), beta=request.headers.get("anthropic-beta"))


async def messages(request: Request) -> Response:
    return await serve_chat(request, _parse_messages)


async def count_tokens(request: Request) -> Json:
    """The input tokens of a Messages request: the configured upstream's count when it can give one, else the
    gateway's own estimate (no model call, nothing billed)."""
    who = await caller(request)
    body = await json_body(request)
    req, _ = fmt.chat_request(body, counting=True, beta=request.headers.get("anthropic-beta"))
    resolve_model(who, req.model, ("chat",))
    counted = await count_upstream(request, who, req)
    return Json({"input_tokens": messages_tokens(req.messages, req.tools) if counted is None else counted})


routes = [
    Route("/v1/messages", messages, methods=["POST"]),
    Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
]
