"""Where a chat request goes: the ordered deployments configured for its model (RUNAPI_LLM_UPSTREAMS), with
fallback to the next one on connection errors, 5xx and 429; or the sandbox LLM when none is configured at all
(the embedded default). Once any real deployment is configured, a model none of them serves is refused (503)
rather than answered by the sandbox, unless RUNAPI_SANDBOX_FALLBACK is set; sandbox answers are marked. Each
deployment speaks its `protocol`: OpenAI Chat Completions (default), Anthropic Messages or the Gemini API.
Every surface calls `complete` / `stream`; errors the client should see come out as RunapiError."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable, Collection
from typing import TYPE_CHECKING

from ..errors import Forbidden, Unavailable, UpstreamFailed
from ..observability.metrics import record_upstream_error, upstream_error_kind
from ..settings import Settings
from ..upstream_errors import UpstreamError
from . import sandbox
from .anthropic.upstream import AnthropicMessages
from .canonical import ChatRequest, ChatResult, Delta
from .gemini.upstream import GeminiApi
from .openai_chat.upstream import OpenAICompatible
from .upstream_common import LlmDeployment, TokenCounter, Upstream, new_http_client

if TYPE_CHECKING:  # aiohttp loads with the first deployment's client (upstream_common.new_http_client)
    import aiohttp

log = logging.getLogger("runapi.llm")
MAX_RETRY_AFTER_WAIT = 2.0  # a 429 with a short Retry-After on the last deployment is waited out once
ADAPTERS: dict[str, Callable[[LlmDeployment, aiohttp.ClientSession], Upstream]] = {
    "openai": OpenAICompatible,
    "anthropic": AnthropicMessages,
    "gemini": GeminiApi,
}
PROVIDER_HEADER = "X-RunAPI-Provider"  # "sandbox" on the sandbox's answers


def _answered_by(upstream: Upstream, result: ChatResult) -> ChatResult:
    result.deployment = upstream.d.name
    return result


def _failed(exc: UpstreamError) -> UpstreamFailed:
    if exc.retryable:
        return UpstreamFailed(f"Upstream error: {exc}")
    # the upstream's own refusal (e.g. content policy) as is
    return UpstreamFailed(str(exc), upstream_status=exc.status or 400)


class LlmRouter:
    """The configured deployments' adapters, built once at start-up (a bad RUNAPI_LLM_UPSTREAMS fails there, not
    at the first call), all sharing one pooled HTTP client; and whether the sandbox may stand in."""

    def __init__(
        self,
        deployments: list[LlmDeployment],
        sandbox_fallback: bool = False,
        http: aiohttp.ClientSession | None = None,
    ):
        self.sandbox_fallback = sandbox_fallback
        self.http = http if http is not None or not deployments else new_http_client()
        self.chain: list[Upstream] = [ADAPTERS[d.protocol](d, self.http) for d in deployments] if self.http else []

    @classmethod
    def from_settings(cls, settings: Settings) -> LlmRouter:
        return cls([LlmDeployment.from_setting(raw) for raw in settings.llm_upstreams], settings.sandbox_fallback)

    async def close(self) -> None:
        """Close the shared upstream client (at shutdown)."""
        if self.http is not None:
            await self.http.close()

    def deployments(self, model: str, barred: Collection[str] = ()) -> list[Upstream]:
        """The adapters serving `model`, in configured order, less the `barred` ones (the caller's guardrail
        forbids them)."""
        return [u for u in self.chain if u.d.serves(model) and u.d.name not in barred]

    def candidates(self, model: str) -> list[str]:
        """The providers that may serve `model`, in fallback order (what guardrails' provider lists match)."""
        return [u.d.name for u in self.deployments(model)] or ["sandbox"]

    def sandboxed(self, model: str, kind: str = "chat") -> bool:
        """Whether the sandbox answers for `model` (embeddings always come from it: no deployment serves them).
        With real deployments configured that is refused (503) unless the sandbox fallback is on."""
        if kind == "chat" and self.deployments(model):
            return False
        if self.chain and not self.sandbox_fallback:
            raise Unavailable(
                f"No upstream is configured for model {model} (RUNAPI_LLM_UPSTREAMS); this server "
                "does not answer it from the sandbox unless RUNAPI_SANDBOX_FALLBACK=true"
            )
        return True

    def _chain(self, model: str, barred: Collection[str]) -> list[Upstream]:
        chain = self.deployments(model, barred)
        if not chain and self.deployments(model):  # never the sandbox in place of forbidden upstreams
            raise Forbidden(f"No provider for {model} is allowed by the guardrail")
        if not chain:
            self.sandboxed(model)
        return chain

    async def complete(self, req: ChatRequest, barred: Collection[str] = ()) -> ChatResult:
        chain = self._chain(req.model, barred)
        if not chain:
            return sandbox.answer(req)
        last: UpstreamError | None = None
        for i, upstream in enumerate(chain):
            try:
                return _answered_by(upstream, await upstream.complete(req))
            except UpstreamError as exc:
                last = exc
                log.warning("upstream %s failed for %s: %s", upstream.d.name, req.model, exc)
                record_upstream_error(upstream.d.name, upstream_error_kind(exc.status))
                if not exc.retryable:
                    break
                if i == len(chain) - 1 and exc.retry_after and exc.retry_after <= MAX_RETRY_AFTER_WAIT:
                    await asyncio.sleep(exc.retry_after)
                    try:
                        return _answered_by(upstream, await upstream.complete(req))
                    except UpstreamError as again:
                        last = again
        assert last is not None  # the chain is not empty
        raise _failed(last) from last

    async def count_tokens(self, req: ChatRequest, barred: Collection[str] = ()) -> int | None:
        """The input tokens the first deployment that can count (Anthropic, Gemini) says `req` has; None when no
        deployment can (the caller falls back to the estimate). A refusal of the request itself is the client's."""
        for upstream in self.deployments(req.model, barred):
            if not isinstance(upstream, TokenCounter):
                continue
            try:
                return await upstream.count_tokens(req)
            except UpstreamError as exc:
                log.warning("upstream %s could not count tokens for %s: %s", upstream.d.name, req.model, exc)
                record_upstream_error(upstream.d.name, upstream_error_kind(exc.status))
                if not exc.retryable:
                    raise _failed(exc) from exc
        return None

    async def stream(self, req: ChatRequest, barred: Collection[str] = ()) -> AsyncGenerator[Delta, None]:
        """Falls back between deployments until one produces its first delta; after that it is committed."""
        chain = self._chain(req.model, barred)
        if not chain:
            async for delta in sandbox.stream(req):
                yield delta
            return
        last: UpstreamError | None = None
        for upstream in chain:
            gen = upstream.stream(req)
            try:
                first = await gen.__anext__()
            except UpstreamError as exc:
                last = exc
                log.warning("upstream %s failed for %s: %s", upstream.d.name, req.model, exc)
                record_upstream_error(upstream.d.name, upstream_error_kind(exc.status))
                await gen.aclose()
                if not exc.retryable:
                    break
                continue
            except StopAsyncIteration:
                return
            first.deployment = upstream.d.name
            yield first
            try:
                async for delta in gen:
                    yield delta
            except UpstreamError as exc:  # broke off mid-answer: too late to fall back; say so in the surface's terms
                log.warning("upstream %s broke off a stream for %s: %s", upstream.d.name, req.model, exc)
                record_upstream_error(upstream.d.name, upstream_error_kind(exc.status))
                raise UpstreamFailed(f"Upstream error: {exc}") from exc
            return
        assert last is not None  # the chain is not empty
        raise _failed(last) from last
