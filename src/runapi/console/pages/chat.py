"""The chat playground for the LLM models: pick a model, send messages, read the answer.

The call goes through the OpenAI surface's own pieces (api/llm_common.py): the Chat Completions parser, the
admission (model, the key's allowed models, guardrails, a reservation against every limit), the model call
and the settlement to the real usage. So it is billed to the member's account and key exactly like
POST /v1/chat/completions, with no second implementation and no HTTP round trip to ourselves (which would
need the key's token, and only its hash is stored)."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...api.llm_common import admit_chat, run_complete, visible_models
from ...errors import ApiError, InvalidInput, RunapiError
from ...llm.openai_chat.surface import ChatCompletionCall
from ..session import Viewer
from ..web import form, refusal_status, render
from .playground import acting_key, own_api_keys

MAX_HISTORY_CHARS = 200_000
MAX_TOKENS = 1024  # per answer: the playground is for trying a model, not for long generations
ROLES = ("user", "assistant")


def _history(raw: object) -> list[dict[str, str]]:
    """The conversation so far (sent back by the page): user and assistant turns of text only."""
    if not isinstance(raw, str) or not raw.strip():
        return []
    if len(raw) > MAX_HISTORY_CHARS:
        raise InvalidInput("The conversation is too long for the playground; clear it and start again")
    try:
        items = json.loads(raw)
    except ValueError:
        return []
    return (
        [
            {"role": m["role"], "content": m["content"]}
            for m in items
            if isinstance(m, dict) and m.get("role") in ROLES and isinstance(m.get("content"), str)
        ]
        if isinstance(items, list)
        else []
    )


async def _page(request: Request, viewer: Viewer, key_id: str, status: int = 200, **context: Any) -> Response:
    keys = await own_api_keys(request, viewer)
    chosen = next((k for k in keys if k.id == key_id), keys[0] if keys else None)
    allowed = chosen.allowed_models if chosen else None
    models = [m for m in visible_models(viewer.principal, "chat") if allowed is None or m.id in allowed]
    context.setdefault("history", [])
    context.setdefault("model", models[0].id if models else "")
    context.setdefault("system", "")
    context.setdefault("error", None)
    context.setdefault("usage", None)
    context.setdefault("sandbox", False)
    template = "partials/chat_form.html" if request.headers.get("hx-request") else "chat.html"
    return await render(
        request,
        template,
        viewer,
        status=status,
        keys=keys,
        selected_key=chosen.id if chosen else "",
        models=models,
        history_json=json.dumps(context["history"], ensure_ascii=False),
        **context,
    )


async def chat_page(request: Request, viewer: Viewer) -> Response:
    return await _page(request, viewer, request.query_params.get("key", ""))


async def send(request: Request, viewer: Viewer) -> Response:
    data = await form(request)
    key_id = str(data.get("key_id") or "")
    model = str(data.get("model") or "")
    system = str(data.get("system") or "").strip()
    message = str(data.get("message") or "").strip()
    history = _history(data.get("history"))
    state: dict[str, Any] = {"history": history, "model": model, "system": system}
    if not message:
        return await _page(request, viewer, key_id, 422, error="Write a message first.", **state)
    turns = [*history, {"role": "user", "content": message}]
    body = {
        "model": model,
        "max_tokens": MAX_TOKENS,
        "messages": ([{"role": "system", "content": system}] if system else []) + turns,
    }
    try:
        who = await acting_key(request, viewer, key_id)
        call = ChatCompletionCall(body)
        admitted = await admit_chat(request, who, call.req)
        result = await run_complete(request, admitted, call.req)  # settled to its usage, or refunded
    except (RunapiError, ApiError) as exc:
        return await _page(request, viewer, key_id, refusal_status(exc), error=exc.message, **state)
    state["history"] = [*turns, {"role": "assistant", "content": result.text}]
    return await _page(request, viewer, who.key_id, usage=result.usage, sandbox=admitted.sandbox, **state)
