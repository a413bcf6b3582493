"""What every LLM surface does around the model call: auth, model lookup, limits, reservation, settlement; and
the one generic chat handler, `serve_chat`, that each protocol plugs its `ChatCall` into (llm/surface.py):
authenticate → parse → admit → run (one call, or a metered stream) → settle or refund."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ..auth.principal import Principal, require_api_key
from ..billing.limits import key_limits
from ..errors import ApiError, RunapiError
from ..llm import billing
from ..llm.canonical import ChatRequest, ChatResult, Delta, Usage
from ..llm.coalesce import ReadBatch, current_batch
from ..llm.models import LlmModel, llm_models
from ..llm.router import PROVIDER_HEADER
from ..llm.surface import SSE_HEADERS, Answering, ChatCall, Failure
from ..llm.tokens import messages_tokens, reserve_tokens
from ..observability.middleware import DIRECT_SEND
from ..policy.guardrails import check_guardrail
from .context import authenticated, runtime
from .errors import as_api_error
from .ratelimits import admission, check_tokens, record_tokens
from .responses import Json

T = TypeVar("T")


@dataclass
class Admitted:
    who: Principal
    model: LlmModel
    reservation: billing.Reservation
    barred: tuple[str, ...] = ()  # deployments the caller's guardrail forbids: never fallen back to
    sandbox: bool = False  # answered by the sandbox LLM, not a real model: marked so no one mistakes it

    @property
    def headers(self) -> dict[str, str]:
        """Response headers naming who answered, when it was the sandbox."""
        return {PROVIDER_HEADER: "sandbox"} if self.sandbox else {}

    def provider(self, deployment: str | None) -> str | None:
        """Who answered, for the usage log: the sandbox, or the deployment the router says (None if none did)."""
        return "sandbox" if self.sandbox else deployment


def visible_models(who: Principal, kind: str | None = None) -> list[LlmModel]:
    """The shared catalog, narrowed to the key's allowed_models."""
    return [
        m
        for m in llm_models().values()
        if (kind is None or m.kind == kind) and (who.allowed_models is None or m.id in who.allowed_models)
    ]


async def caller(request: Request) -> Principal:
    who = await authenticated(request)
    require_api_key(who)
    return who


def model_not_found(model_id: object) -> ApiError:
    return ApiError(
        404, f"The model `{model_id}` does not exist or you do not have access to it", code="model_not_found"
    )


def resolve_model(
    who: Principal, model_id: object, kinds: tuple[str, ...], not_found: Callable[[object], ApiError] = model_not_found
) -> LlmModel:
    """The catalog model of one of `kinds` (404 in the surface's words otherwise) that this key may use
    (422, as the docs say for every LLM surface)."""
    if not isinstance(model_id, str) or not model_id:
        raise ApiError(400, "Missing required parameter: model")
    model = llm_models().get(model_id)
    if model is None or model.kind not in kinds:
        raise not_found(model_id)
    if who.allowed_models is not None and model.id not in who.allowed_models:
        raise ApiError(422, f"Model {model.id} is not allowed for this API key")
    return model


async def admit(
    request: Request,
    who: Principal,
    model_id: object,
    kind: str,
    input_tokens: int,
    max_output: int | None,
    caching: bool = False,
) -> Admitted:
    """Check the model, the key's allow-list and its guardrail; then reserve credits for the most the call can
    cost, checked against the key's and the guardrail's limits in the same step (403, or 402). From here on the
    caller settles or refunds on every path (`run_complete`, `MeteredStream`, `refunded_on_error`)."""
    model = resolve_model(who, model_id, (kind,))
    rt = runtime(request)
    await check_tokens(rt, request)  # 429 while the key's (or account's) tokens-per-minute window is full
    sandboxed = rt.llm.sandboxed(model.id, kind)  # 503 here, before reserving, when the sandbox may not answer
    guarded = await check_guardrail(rt, who, model.id, rt.llm.candidates(model.id))
    limits = key_limits(who.key_id, who.credit_limit_cents, who.credit_limit_reset_interval) + guarded.limits
    reservation = await billing.reserve(
        rt.ledger,
        who,
        model,
        input_tokens,
        max_output,
        guarded.guardrail_id,
        limits,
        guarded.member_guardrail_id,
        caching,
    )
    return Admitted(who, model, reservation, guarded.barred, sandboxed)


async def count_upstream(request: Request, who: Principal, req: ChatRequest) -> int | None:
    """The input tokens the model's upstream counts for `req` (None: no upstream that counts, or none reachable),
    through the deployments the caller's guardrail allows."""
    rt = runtime(request)
    model = llm_models().get(req.model)
    if model is None or model.kind != "chat" or not rt.llm.deployments(req.model):
        return None
    guarded = await check_guardrail(rt, who, req.model, rt.llm.candidates(req.model))
    return await rt.llm.count_tokens(req, guarded.barred)


async def settle(request: Request, admitted: Admitted, usage: Usage, deployment: str | None = None) -> None:
    rt = runtime(request)
    await billing.settle(rt.ledger, admitted.reservation, admitted.model, usage, admitted.provider(deployment))
    await record_tokens(rt, admission(request), usage)


async def admit_chat(request: Request, who: Principal, req: ChatRequest) -> Admitted:
    # n choices produce up to n times the output (the sandbox honours n; upstreams are asked for one)
    max_output = None if req.max_tokens is None else req.max_tokens * max(req.n, 1)
    return await admit(
        request, who, req.model, "chat", reserve_tokens(req.messages, req.tools), max_output, req.uses_cache()
    )


@contextlib.asynccontextmanager
async def refunded_on_error(request: Request, admitted: Admitted) -> AsyncIterator[None]:
    """Work done between admission and settlement outside `run_complete`: any failure refunds the reservation
    (a refund after the settle committed changes nothing)."""
    try:
        yield
    except BaseException:
        await _shielded(
            billing.refund(runtime(request).ledger, admitted.reservation, "request failed", admitted.provider(None))
        )
        raise


async def run_complete(request: Request, admitted: Admitted, req: ChatRequest) -> ChatResult:
    """One non-streamed call: settled to real usage, or refunded in full when it fails."""
    rt = runtime(request)
    try:
        result = await rt.llm.complete(req, admitted.barred)
    except BaseException:
        await _shielded(billing.refund(rt.ledger, admitted.reservation, "upstream failure", admitted.provider(None)))
        raise
    await _shielded(settle(request, admitted, result.usage, result.deployment))
    return result


class MeteredStream:
    """Deltas of one streamed call. `start()` waits for the first delta, so a failure before any output
    becomes a proper error response (and a refund); iteration then yields it and the rest, and `close()`
    settles to the usage seen (or refunds if nothing was produced)."""

    def __init__(self, request: Request, admitted: Admitted, req: ChatRequest):
        self.rt = runtime(request)
        self.admitted = admitted
        self.rate_limited = admission(request)  # its tokens count towards the tokens-per-minute windows
        self.req = req
        self.gen = self.rt.llm.stream(req, admitted.barred)
        self.first: Delta | None = None
        self.text_chars = 0
        self.usage = Usage()
        self.reported = False  # the stream sent real usage
        self.prompt_usage: Usage | None = None  # its input side, when the upstream said at the start
        self.produced = False
        self.deployment: str | None = None  # who answered (the router marks the first delta)
        self._closed = False

    async def start(self) -> MeteredStream:
        try:
            self.first = await self.gen.__anext__()
        except StopAsyncIteration:
            self.first = None
        except BaseException:
            self._closed = True
            await _shielded(
                billing.refund(
                    self.rt.ledger, self.admitted.reservation, "upstream failure", self.admitted.provider(None)
                )
            )
            raise
        return self

    async def __aiter__(self) -> AsyncIterator[Delta]:
        if self.first is not None:
            yield self._seen(self.first)
        async for delta in self.gen:
            yield self._seen(delta)

    def _seen(self, delta: Delta) -> Delta:
        self.produced = True
        if delta.deployment is not None:
            self.deployment = delta.deployment
        if delta.prompt_usage is not None:
            self.prompt_usage = delta.prompt_usage
        if delta.usage is not None:
            self.usage = delta.usage
            self.reported = True
        if delta.text:
            self.text_chars += len(delta.text.encode("utf-8"))
        if delta.reasoning:  # thoughts are output too: a hang-up mid-reasoning is not free
            self.text_chars += len(delta.reasoning.encode("utf-8"))
        if delta.tool_call is not None:
            self.text_chars += len(delta.tool_call.arguments.encode("utf-8"))
        return delta

    def billable_usage(self) -> Usage:
        """Real usage when the stream reported it; if the client left before that, the estimated prompt and
        the output already sent (so hanging up just before the end is not free)."""
        if self.reported:
            return self.usage
        output = -(-self.text_chars // 4)
        if self.prompt_usage is not None:  # the upstream's own input count, cache reads and writes included
            p = self.prompt_usage
            return Usage(
                input_tokens=p.input_tokens,
                output_tokens=output,
                cached_tokens=p.cached_tokens,
                cache_write_tokens=p.cache_write_tokens,
                cache_write_1h_tokens=p.cache_write_1h_tokens,
            )
        return Usage(input_tokens=messages_tokens(self.req.messages, self.req.tools), output_tokens=output)

    async def close(self) -> None:
        """Settle (or refund) exactly once. Shielded: a client that disconnects cancels the response task,
        and a cancelled settlement would leave the SQLite write transaction half done and locked."""
        if self._closed:
            return
        self._closed = True
        await _shielded(self._finish())

    async def _finish(self) -> None:
        try:
            await self.gen.aclose()
        finally:
            if self.produced:
                usage = self.billable_usage()
                await billing.settle(
                    self.rt.ledger,
                    self.admitted.reservation,
                    self.admitted.model,
                    usage,
                    self.admitted.provider(self.deployment),
                )
                await record_tokens(self.rt, self.rate_limited, usage)
            else:
                await billing.refund(
                    self.rt.ledger, self.admitted.reservation, "no output", self.admitted.provider(self.deployment)
                )


async def _shielded(work: Coroutine[Any, Any, Any]) -> None:
    """Run a money-moving step to completion even if the caller is cancelled. An anyio shield, because
    Starlette cancels a disconnected client's response through an anyio cancel scope, which pierces
    asyncio.shield."""
    with anyio.CancelScope(shield=True):
        await work


async def serve_embedding(
    request: Request, who: Principal, model: LlmModel, tokens: int, make: Callable[[], Awaitable[T]]
) -> tuple[T, dict[str, str]]:
    """One embeddings call (the sandbox makes every vector): reserve for its input, `make` the answer, settle;
    a failure in between refunds. Returns the answer and the response headers."""
    admitted = await admit(request, who, model.id, "embedding", tokens, 0)
    async with refunded_on_error(request, admitted):
        answer = await make()
        await settle(request, admitted, Usage(input_tokens=tokens))
    return answer, admitted.headers


def describe(exc: BaseException) -> Failure:
    """A mid-stream exception in client terms, for protocols that report it in-band."""
    if isinstance(exc, (ApiError, RunapiError)):
        refusal = as_api_error(exc)
        return Failure(refusal.status, refusal.message)
    return Failure(500, "Internal server error", internal=True)


Parse = Callable[[Request, Principal], Awaitable[ChatCall]]


async def serve_chat(request: Request, parse: Parse) -> Response:
    """The one chat handler: every surface's request goes through the same admission, run and settlement;
    `parse` (the protocol) turns the request into a `ChatCall`, which encodes the answer."""
    who = await caller(request)
    call = await parse(request, who)
    admitted = await admit_chat(request, who, call.req)
    answering = Answering(admitted.model.id, admitted.sandbox)
    headers = {**call.headers, **admitted.headers}
    if not call.req.stream:
        result = await run_complete(request, admitted, call.req)  # settled, or refunded and re-raised
        return Json(await call.answer(answering, result), headers=headers)
    # waits for the first delta: an upstream that fails at once gets a real HTTP error (and a refund)
    metered = await MeteredStream(request, admitted, call.req).start()
    return SseResponse(
        call.frames(answering, metered, describe), call.media_type, {**SSE_HEADERS, **headers}, metered.close
    )


class SseResponse(Response):
    """A streamed answer written straight to the server: StreamingResponse's job (start, body messages, stop
    when the client disconnects) minus its per-message layers, one write per upstream read. Body messages go to the server's own send
    (RequestObserver's DIRECT_SEND): the start message still passes every layer, which is all they look at
    (status, request id); nothing in the stack rewrites bodies. `close` (settle or refund; shielded and
    idempotent) runs on every way out: the end, an error, a client that left before or during the body."""

    def __init__(
        self,
        frames: AsyncGenerator[bytes, None],
        media_type: str,
        headers: dict[str, str],
        close: Callable[[], Awaitable[None]],
    ):
        self.frames = frames
        self.close = close
        self.status_code = 200
        self.media_type = media_type
        self.background = None
        self.init_headers(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        write = scope.get(DIRECT_SEND, send)
        held: list[bytes] = []

        async def flush() -> None:
            if held:
                body = b"".join(held)
                held.clear()
                await write({"type": "http.response.body", "body": body, "more_body": True})

        # frames made from one upstream read are held and written together (llm/coalesce)
        batch = ReadBatch(flush)
        token = current_batch.set(batch)
        try:
            with anyio.CancelScope() as body:
                # uvicorn drops writes to a gone client without an error: a disconnect ends the body instead
                watcher = asyncio.get_running_loop().create_task(_cancel_on_disconnect(receive, body))
                try:
                    await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
                    async with contextlib.aclosing(self.frames) as frames:
                        async for chunk in frames:
                            held.append(chunk)
                            if not batch.holding:
                                await flush()
                    await flush()
                    await write({"type": "http.response.body", "body": b"", "more_body": False})
                finally:
                    watcher.cancel()
        finally:
            current_batch.reset(token)
            await self.close()


async def _cancel_on_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()
