"""OpenAI Responses API surface: POST /v1/responses (JSON and SSE), GET and DELETE /v1/responses/{id}.

Requests are translated to the canonical chat format (llm/openai_responses/surface.py), admitted and billed like
every other LLM surface (llm_common.serve_chat), and answered through the router.

Stored responses (`previous_response_id`): unless a request says `"store": false`, each finished response is
kept in the database (llm/openai_responses/stored.py: every API process sees it, restarts keep it, it expires after
`responses_retention_days`) together with the conversation that produced it (input and output as canonical
messages, without the request's `instructions`, which OpenAI does not carry over either). A follow-up request
naming it continues that conversation; an unknown or expired one gets 404 `previous_response_not_found`.
Responses are visible only to keys of the account that created them.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..auth.principal import Principal
from ..errors import ApiError
from ..llm.openai_responses import stored
from ..llm.openai_responses.surface import (
    ResponsesCall,
    items_to_messages,
    parse_request,
)
from ..llm.surface import ChatCall
from .context import runtime
from .llm_common import caller, serve_chat
from .responses import Json, json_body


def _not_found(resp_id: str, previous: bool = False) -> ApiError:
    if previous:
        return ApiError(404, f"Previous response with id '{resp_id}' not found.", code="previous_response_not_found")
    return ApiError(404, f"Response with id '{resp_id}' not found.")


async def _parse_response(request: Request, who: Principal) -> ChatCall:
    parsed = parse_request(await json_body(request))
    rt = runtime(request)
    history: list[dict[str, Any]] = []
    if parsed.previous_response_id:
        previous = await stored.get(rt.db, parsed.previous_response_id, who.account_id)
        if previous is None:
            raise _not_found(parsed.previous_response_id, previous=True)
        history = previous.messages

    async def remember(response: dict[str, Any]) -> None:
        if not parsed.store:
            return
        conversation = [*history, *parsed.input_messages, *items_to_messages(response["output"])]
        await stored.put(
            rt.db, response["id"], who.account_id, response, conversation, rt.settings.responses_retention_days * 86400
        )

    return ResponsesCall(parsed, history, remember)


async def create_response(request: Request) -> Response:
    return await serve_chat(request, _parse_response)


async def get_response(request: Request) -> Json:
    who = await caller(request)
    resp_id = request.path_params["response_id"]
    if request.query_params.get("stream") in ("true", "1"):
        raise ApiError(400, "Streaming a stored response is not supported; retrieve it without stream")
    found = await stored.get(runtime(request).db, resp_id, who.account_id)
    if found is None:
        raise _not_found(resp_id)
    return Json(found.response)


async def delete_response(request: Request) -> Json:
    who = await caller(request)
    resp_id = request.path_params["response_id"]
    if not await stored.remove(runtime(request).db, resp_id, who.account_id):
        raise _not_found(resp_id)
    return Json({"id": resp_id, "object": "response.deleted", "deleted": True})


routes = [
    Route("/v1/responses", create_response, methods=["POST"]),
    Route("/v1/responses/{response_id}", get_response, methods=["GET"]),
    Route("/v1/responses/{response_id}", delete_response, methods=["DELETE"]),
]
