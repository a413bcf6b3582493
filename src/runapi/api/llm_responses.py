"""OpenAI Responses API surface: POST /v1/responses (JSON and SSE), GET and DELETE /v1/responses/{id}.

Requests are translated to the canonical chat format (llm/responses_format.py), admitted and billed like every
other LLM surface (llm_common), and answered through the router.

Stored responses (`previous_response_id`): unless a request says `"store": false`, each finished response is
kept in the database (llm/stored_responses.py: every API process sees it, restarts keep it, it expires after
`responses_retention_days`) together with the conversation that produced it (input and output as canonical
messages, without the request's `instructions`, which OpenAI does not carry over either). A follow-up request
naming it continues that conversation; an unknown or expired one gets 404 `previous_response_not_found`.
Responses are visible only to keys of the account that created them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from ..errors import ApiError, RunapiError
from ..llm import stored_responses as stored
from ..llm.responses_format import (
    EventStream,
    ResponsesRequest,
    final_status,
    items_to_messages,
    new_id,
    parse_request,
    response_object,
    result_output,
)
from .context import runtime
from .errors import as_api_error
from .llm_common import Admitted, MeteredStream, admit_chat, caller, run_complete
from .responses import Json, json_body

log = logging.getLogger("runapi.llm.responses")

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
def _not_found(resp_id: str, previous: bool = False) -> ApiError:
    if previous:
        return ApiError(404, f"Previous response with id '{resp_id}' not found.", code="previous_response_not_found")
    return ApiError(404, f"Response with id '{resp_id}' not found.")


async def _remember(request: Request, admitted: Admitted, parsed: ResponsesRequest, history: list[dict[str, Any]],
                    response: dict[str, Any]) -> None:
    if not parsed.store:
        return
    conversation = [*history, *parsed.input_messages, *items_to_messages(response["output"])]
    rt = runtime(request)
    await stored.put(rt.db, response["id"], admitted.who.account_id, response, conversation,
                     rt.settings.responses_retention_days * 86400)


def frame(event: dict[str, Any]) -> bytes:
    return b"event: " + event["type"].encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


def _failure(exc: Exception) -> dict[str, str]:
    if isinstance(exc, (ApiError, RunapiError)):
        refusal = as_api_error(exc)
        code = "rate_limit_exceeded" if refusal.status == 429 else "server_error"
        return {"code": code, "message": refusal.message}
    return {"code": "server_error", "message": "The model failed to produce a response."}


async def create_response(request: Request):
    who = await caller(request)
    parsed = parse_request(await json_body(request))
    history: list[dict[str, Any]] = []
    if parsed.previous_response_id:
        previous = await stored.get(runtime(request).db, parsed.previous_response_id, who.account_id)
        if previous is None:
            raise _not_found(parsed.previous_response_id, previous=True)
        history = previous.messages
    req = parsed.chat_request(history)
    admitted = await admit_chat(request, who, req)
    resp_id, created = new_id("resp"), int(time.time())
    model = admitted.model.id

    if not req.stream:
        result = await run_complete(request, admitted, req)  # settled, or refunded and re-raised
        output = result_output(result, summary_wanted=parsed.summary_wanted)
        response = response_object(resp_id, created, model, parsed, status=final_status(result.finish_reason),
                                   output=output, usage=result.usage, finish_reason=result.finish_reason,
                                   completed_at=int(time.time()))
        await _remember(request, admitted, parsed, history, response)
        return Json(response, headers=admitted.headers)

    # A failure before the first delta is an ordinary error response (and a full refund).
    metered = await MeteredStream(request, admitted, req).start()

    async def events() -> AsyncIterator[bytes]:
        finish: str | None = None
        stream = EventStream(response_object(resp_id, created, model, parsed, status="in_progress", output=[],
                                             usage=None), summary_wanted=parsed.summary_wanted)
        try:
            for event in stream.start():
                yield frame(event)
            try:
                async for d in metered:
                    if d.finish_reason is not None:
                        finish = d.finish_reason
                    for event in stream.feed(d):
                        yield frame(event)
            except Exception as exc:  # noqa: BLE001 - the upstream broke off mid-answer: say so in the stream's terms
                log.warning("responses stream %s failed: %r", resp_id, exc)
                failed = response_object(resp_id, created, model, parsed, status="failed", output=stream.output,
                                         usage=metered.usage, error=_failure(exc))
                yield frame(stream.done(failed))
                return
            for event in stream.finish(finish):
                yield frame(event)
            response = response_object(resp_id, created, model, parsed, status=final_status(finish),
                                       output=stream.output, usage=metered.usage, finish_reason=finish,
                                       completed_at=int(time.time()))
            await _remember(request, admitted, parsed, history, response)
            yield frame(stream.done(response))
        finally:
            await metered.close()  # settles to the usage seen, or refunds when nothing came

    return StreamingResponse(events(), media_type="text/event-stream", headers={**SSE_HEADERS, **admitted.headers},
                             background=BackgroundTask(metered.close))  # also if the client leaves early


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
