"""Token billing: reserve before the call (estimated input + the output cap), settle to real usage after,
refund in full when the upstream fails. Same ledger and windows as media tasks; the moves go through the
runtime's LedgerBatcher (group commit), so each is durable before the call proceeds."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from ..auth.principal import Principal
from ..billing.batcher import LedgerBatcher
from ..observability.metrics import record_llm_tokens
from .canonical import Usage
from .models import LlmModel

DEFAULT_OUTPUT_CAP = 4096


@dataclass
class Reservation:
    request_id: str
    cents: int
    account_id: int
    api_key_id: str


async def reserve(ledger: LedgerBatcher, who: Principal, model: LlmModel, input_tokens: int,
                  max_output: int | None, guardrail_id: str | None,
                  member_guardrail_id: str | None = None) -> Reservation:
    cents = model.cost_cents(input_tokens, max_output if max_output is not None else DEFAULT_OUTPUT_CAP)
    res = Reservation(f"llm_{uuid.uuid4().hex}", cents, who.account_id, who.key_id)
    await ledger.reserve(who.account_id, who.key_id, res.request_id, cents, model=model.id, guardrail_id=guardrail_id,
                         member_guardrail_id=member_guardrail_id)
    return res


async def settle(ledger: LedgerBatcher, res: Reservation, model: LlmModel, usage: Usage) -> int | None:
    cost = model.cost_micro_cents(usage.input_tokens, usage.output_tokens, usage.cached_tokens)
    charged = await ledger.settle(res.account_id, res.api_key_id, res.request_id, res.cents, cost)
    if charged is not None:  # counted once, by the move that settled it
        record_llm_tokens(model.id, usage.input_tokens, usage.output_tokens, usage.cached_tokens)
    return charged


async def refund(ledger: LedgerBatcher, res: Reservation, why: str) -> None:
    await ledger.refund(res.account_id, res.api_key_id, res.request_id, res.cents, note=why)
