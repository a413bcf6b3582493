"""OpenAI-compatible surface: /v1/chat/completions (JSON and SSE; the protocol is llm/openai_chat), /v1/models,
/v1/embeddings."""

from __future__ import annotations

import asyncio
import base64
import struct

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..auth.principal import Principal
from ..errors import ApiError
from ..llm import sandbox
from ..llm.anthropic import surface as messages_surface
from ..llm.openai_chat.surface import ChatCompletionCall, model_object
from ..llm.surface import ChatCall
from ..llm.tokens import text_tokens
from .llm_common import (
    caller,
    resolve_model,
    serve_chat,
    serve_embedding,
    visible_models,
)
from .responses import Json, json_body


async def _parse_chat(request: Request, who: Principal) -> ChatCall:
    return ChatCompletionCall(await json_body(request))


async def chat_completions(request: Request) -> Response:
    return await serve_chat(request, _parse_chat)


async def list_models(request: Request) -> Json:
    """OpenAI list format, or Anthropic's when the Anthropic SDK asks (it sends anthropic-version)."""
    who = await caller(request)
    anthropic = bool(request.headers.get("anthropic-version"))
    models = visible_models(who, "chat" if anthropic else None)  # Anthropic's list has no embedding models
    if anthropic:
        data = [messages_surface.model_object(m) for m in models]
        return Json(
            {
                "data": data,
                "has_more": False,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
            }
        )
    return Json({"object": "list", "data": [model_object(m) for m in models]})


async def get_model(request: Request) -> Json:
    who = await caller(request)
    wanted = request.path_params["model"]
    for m in visible_models(who):
        if m.id == wanted:
            return Json(
                messages_surface.model_object(m) if request.headers.get("anthropic-version") else model_object(m)
            )
    raise ApiError(404, f"The model `{wanted}` does not exist or you do not have access to it", code="model_not_found")


# OpenAI's limits per embeddings request: 2,048 inputs, 300,000 tokens in all.
MAX_EMBEDDING_INPUTS = 2048
MAX_EMBEDDING_TOKENS = 300_000


def _embeddings_body(texts: list[str], size: int, as_base64: bool, model: str, tokens: int) -> bytes:
    """The rendered answer (up to 2,048 vectors, tens of MB of JSON): built in a thread, off the event loop."""
    data = []
    for i, text in enumerate(texts):
        vec = sandbox.embed(text, size)
        value = base64.b64encode(struct.pack(f"<{len(vec)}f", *vec)).decode() if as_base64 else vec
        data.append({"object": "embedding", "index": i, "embedding": value})
    return orjson.dumps(
        {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
    )


async def embeddings(request: Request) -> Response:
    who = await caller(request)
    body = await json_body(request)
    if not isinstance(body, dict):
        raise ApiError(400, "Request body must be a JSON object")
    raw = body.get("input")
    texts = [raw] if isinstance(raw, str) else raw
    if not isinstance(texts, list) or not texts:
        raise ApiError(400, "Missing required parameter: input")
    if len(texts) > MAX_EMBEDDING_INPUTS:  # before any work on them, and before anything is reserved
        raise ApiError(
            400, f"'$.input' is invalid: an array must have at most {MAX_EMBEDDING_INPUTS} items (got {len(texts)})"
        )
    texts = [t if isinstance(t, str) else " ".join(map(str, t)) if isinstance(t, list) else None for t in texts]
    if any(t is None for t in texts):
        raise ApiError(400, "input must be a string, an array of strings or an array of token arrays")
    tokens = sum(text_tokens(t) for t in texts)
    if tokens > MAX_EMBEDDING_TOKENS:
        raise ApiError(
            400,
            f"Requested {tokens} tokens, max {MAX_EMBEDDING_TOKENS} tokens per request",
            code="max_tokens_per_request",
        )
    model = resolve_model(who, body.get("model"), ("embedding",))
    size = model.embedding_size(body.get("dimensions"), "dimensions")  # checked before anything is reserved
    as_base64 = body.get("encoding_format") == "base64"
    answer, headers = await serve_embedding(
        request,
        who,
        model,
        tokens,
        lambda: asyncio.to_thread(_embeddings_body, texts, size, as_base64, model.id, tokens),
    )
    return Response(answer, media_type="application/json", headers=headers)


routes = [
    Route("/v1/chat/completions", chat_completions, methods=["POST"]),
    Route("/v1/models", list_models, methods=["GET"]),
    Route("/v1/models/{model:path}", get_model, methods=["GET"]),
    Route("/v1/embeddings", embeddings, methods=["POST"]),
]
