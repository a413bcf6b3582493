"""Gemini-compatible surface: /v1beta/models, :generateContent, :streamGenerateContent (SSE or a JSON array),
:countTokens, :embedContent and :batchEmbedContents, wire-compatible with the official google-genai SDK
(`HttpOptions(base_url=..., api_version="v1beta")`). The protocol lives in llm/gemini/."""

from __future__ import annotations

import base64
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..auth.principal import Principal
from ..errors import ApiError
from ..llm import sandbox
from ..llm.gemini import surface as gf
from ..llm.models import LlmModel
from ..llm.surface import ChatCall
from ..llm.tokens import messages_tokens, text_tokens
from .llm_common import (
    caller,
    count_upstream,
    resolve_model,
    serve_chat,
    serve_embedding,
    visible_models,
)
from .responses import Json, json_body

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def _model_id(name: str) -> str:
    return name.removeprefix("models/")


def _not_found(model_id: str, method: str) -> ApiError:
    return ApiError(
        404,
        f"models/{model_id} is not found for API version v1beta, or is not supported for {method}. "
        "Call ListModels to see the list of available models and their supported methods.",
    )


def _resolve(who: Principal, model_id: str, method: str, kinds: tuple[str, ...]) -> LlmModel:
    """The catalog model for `method`, with the 404 in Google's words."""
    return resolve_model(who, model_id, kinds, lambda m: _not_found(str(m), method))


# ------------------------------------------------------------------------------------------------ models


async def list_models(request: Request) -> Json:
    who = await caller(request)
    models = visible_models(who)
    size_raw = request.query_params.get("pageSize") or request.query_params.get("page_size")
    try:
        size = int(size_raw) if size_raw else DEFAULT_PAGE_SIZE
    except ValueError:
        raise ApiError(400, f"Invalid value for pageSize: {size_raw!r}") from None
    size = DEFAULT_PAGE_SIZE if size <= 0 else min(size, MAX_PAGE_SIZE)
    token = request.query_params.get("pageToken") or request.query_params.get("page_token")
    start = 0
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().removeprefix("o:"))
        except ValueError:
            raise ApiError(400, "Invalid page token") from None
        if start < 0:
            raise ApiError(400, "Invalid page token")
    page = models[start : start + size]
    body: dict[str, Any] = {"models": [gf.model_resource(m) for m in page]}
    if start + size < len(models):
        body["nextPageToken"] = base64.urlsafe_b64encode(f"o:{start + size}".encode()).decode().rstrip("=")
    return Json(body)


async def get_model(request: Request, name: str) -> Json:
    who = await caller(request)
    model_id = _model_id(name)
    for m in visible_models(who):
        if m.id == model_id:
            return Json(gf.model_resource(m))
    raise ApiError(404, f"Model is not found: models/{model_id} for api version v1beta")


# ---------------------------------------------------------------------------------------------- generate


async def generate_content(request: Request, model_id: str, stream: bool) -> Response:
    async def parse(request: Request, who: Principal) -> ChatCall:
        _resolve(who, model_id, "streamGenerateContent" if stream else "generateContent", ("chat",))
        return gf.GenerateCall(
            model_id, await json_body(request), stream, as_sse=request.query_params.get("alt") == "sse"
        )

    return await serve_chat(request, parse)


async def count_tokens(request: Request, model_id: str) -> Json:
    who = await caller(request)
    _resolve(who, model_id, "countTokens", ("chat", "embedding"))
    body = await json_body(request)
    inner = gf.pick(body, "generateContentRequest") if isinstance(body, dict) else None
    req, _ = gf.chat_request(model_id, inner if isinstance(inner, dict) else body)
    counted = await count_upstream(request, who, req)  # the upstream's count when it gives one, else the estimate
    total = messages_tokens(req.messages, req.tools) if counted is None else counted
    return Json({"totalTokens": total, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": total}]})


async def embed_contents(request: Request, model_id: str, batch: bool) -> Json:
    who = await caller(request)
    method = "batchEmbedContents" if batch else "embedContent"
    model = _resolve(who, model_id, method, ("embedding",))
    body = await json_body(request)
    if not isinstance(body, dict):
        raise ApiError(400, "Request body must be a JSON object")
    if batch:
        requests = gf.pick(body, "requests")
        if not isinstance(requests, list) or not requests:
            raise ApiError(400, "* BatchEmbedContentsRequest.requests: requests is not specified")
        if len(requests) > 100:
            raise ApiError(400, "* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch")
    else:
        requests = [body]
    texts, sizes = [], []
    for i, r in enumerate(requests):
        where = f"BatchEmbedContentsRequest.requests[{i}]" if batch else "EmbedContentRequest"
        if not isinstance(r, dict):
            raise ApiError(400, f"* {where}: expected an object")
        named = gf.pick(r, "model")
        if batch and named is not None and _model_id(str(named)) != model.id:
            raise ApiError(400, f"* {where}.model: the model of every request must be models/{model.id}")
        texts.append(gf.embed_text(gf.pick(r, "content"), where))
        sizes.append(model.embedding_size(gf.pick(r, "outputDimensionality"), "outputDimensionality"))
    tokens = sum(text_tokens(t) for t in texts)

    async def make() -> list[dict[str, Any]]:
        return [{"values": sandbox.embed(t, n)} for t, n in zip(texts, sizes, strict=True)]

    embeddings, headers = await serve_embedding(request, who, model, tokens, make)
    usage = {"promptTokenCount": tokens, "totalTokenCount": tokens}
    if batch:
        return Json({"embeddings": embeddings, "usageMetadata": usage}, headers=headers)
    return Json({"embedding": embeddings[0], "usageMetadata": usage}, headers=headers)


async def model_resource(request: Request) -> Any:
    """/v1beta/models/{model} (GET) and /v1beta/models/{model}:{method} (POST); the colon is in the segment."""
    name = request.path_params["model_action"]
    model_part, _, action = name.rpartition(":") if ":" in name else (name, "", "")
    model_id = _model_id(model_part)
    if request.method == "GET":
        if action:
            raise ApiError(404, f"Method not found: {action}")
        return await get_model(request, name)
    if action == "generateContent":
        return await generate_content(request, model_id, stream=False)
    if action == "streamGenerateContent":
        return await generate_content(request, model_id, stream=True)
    if action == "countTokens":
        return await count_tokens(request, model_id)
    if action in ("embedContent", "batchEmbedContents"):
        return await embed_contents(request, model_id, batch=action == "batchEmbedContents")
    await caller(request)
    raise ApiError(404, f"Method not found: models/{model_id}:{action}" if action else "Method not found")


routes = [
    Route("/v1beta/models", list_models, methods=["GET"]),
    Route("/v1beta/models/{model_action:path}", model_resource, methods=["GET", "POST"]),
]
