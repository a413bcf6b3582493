"""Token billing: reserve before the call for the most it can cost (input with images and documents at their
most, plus max_tokens or the model's output cap), settle to real usage after, refund in full when the upstream
fails. Same ledger, windows and limits as media tasks; the moves go through the runtime's LedgerBatcher (group
commit), so each is durable before the call proceeds. The settle or refund carries the call's usage-log row
(billing/usage.py), committed with it."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from ..auth.principal import Principal
from ..billing.batcher import LedgerBatcher
from ..billing.limits import Limit
from ..billing.usage import LlmUsage
from ..observability.context import NO_REQUEST, request_id, request_started
from ..observability.metrics import record_llm_tokens
from .canonical import Usage
from .models import LlmModel


@dataclass
class Reservation:
    request_id: str
    cents: int
    account_id: int
    api_key_id: str
    model: str = ""
    action: str = "chat"  # the model's kind: chat | embedding
    http_request_id: str | None = None  # X-Request-Id, for the usage log
    started: float = field(default_factory=time.perf_counter)  # when the request arrived

    def usage(self, provider: str | None, usage: Usage | None = None) -> LlmUsage:
        """The call's usage-log facts, timed now."""
        u = usage or Usage()
        return LlmUsage(
            model=self.model,
            action=self.action,
            provider=provider,
            request_id=self.http_request_id,
            latency_ms=max(round((time.perf_counter() - self.started) * 1000), 0),
            input_tokens=u.input_tokens,
            output_tokens=u.output_tokens,
            cached_tokens=u.cached_tokens,
            cache_write_tokens=u.cache_write_tokens,
            reasoning_tokens=u.reasoning_tokens,
        )


def output_bound(model: LlmModel, max_output: int | None) -> int:
    """The most output a call can produce: its max_tokens, within the model's own cap."""
    if max_output is None:
        return model.max_output
    return min(max_output, model.max_output) if model.max_output else max_output


def reservation_cents(model: LlmModel, input_tokens: int, max_output: int | None, caching: bool = False) -> int:
    """What a call reserves: the most it can cost (its input, written to the cache at the dearest TTL when it has
    cache breakpoints, plus its output bound). POST /api/v1/price_quotes answers with it too."""
    return model.most_cents(input_tokens, output_bound(model, max_output), caching)


async def reserve(
    ledger: LedgerBatcher,
    who: Principal,
    model: LlmModel,
    input_tokens: int,
    max_output: int | None,
    guardrail_id: str | None,
    limits: tuple[Limit, ...] = (),
    member_guardrail_id: str | None = None,
    caching: bool = False,
) -> Reservation:
    """Hold what the call can cost at most (402 if the balance cannot cover it; 403 once a limit is reached);
    `caching`: the request has cache breakpoints, so its input may be written to the cache at a higher price."""
    cents = reservation_cents(model, input_tokens, max_output, caching)
    rid = request_id.get()
    res = Reservation(
        f"llm_{uuid.uuid4().hex}",
        cents,
        who.account_id,
        who.key_id,
        model=model.id,
        action=model.kind,
        http_request_id=None if rid == NO_REQUEST else rid,
        started=request_started.get() or time.perf_counter(),
    )
    await ledger.reserve(
        who.account_id,
        who.key_id,
        res.request_id,
        cents,
        model=model.id,
        guardrail_id=guardrail_id,
        limits=limits,
        member_guardrail_id=member_guardrail_id,
    )
    return res


async def settle(
    ledger: LedgerBatcher, res: Reservation, model: LlmModel, usage: Usage, provider: str | None
) -> int | None:
    """`provider`: the deployment that answered, or "sandbox"."""
    written_1h = min(usage.cache_write_1h_tokens, usage.cache_write_tokens)
    cost = model.cost_micro_cents(
        usage.input_tokens, usage.output_tokens, usage.cached_tokens, usage.cache_write_tokens - written_1h, written_1h
    )
    charged = await ledger.settle(
        res.account_id, res.api_key_id, res.request_id, res.cents, cost, usage=res.usage(provider, usage)
    )
    if charged is not None:  # counted once, by the move that settled it
        record_llm_tokens(model.id, usage.input_tokens, usage.output_tokens, usage.cached_tokens)
    return charged


async def refund(ledger: LedgerBatcher, res: Reservation, why: str, provider: str | None = None) -> None:
    """Give the reservation back; the call is logged as failed, at no cost."""
    await ledger.refund(res.account_id, res.api_key_id, res.request_id, res.cents, note=why, usage=res.usage(provider))
