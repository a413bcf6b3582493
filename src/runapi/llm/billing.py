"""Token billing: reserve before the call (estimated input + the output cap), settle to real usage after,
refund in full when the upstream fails. Same ledger and windows as media tasks."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from ..auth.principal import Principal
from ..billing import ledger
from ..store import Database
from .canonical import Usage
from .models import LlmModel

DEFAULT_OUTPUT_CAP = 4096


@dataclass
class Reservation:
    request_id: str
    cents: int
    account_id: int
    api_key_id: str


async def reserve(db: Database, who: Principal, model: LlmModel, input_tokens: int, max_output: int | None,
                  guardrail_id: str | None) -> Reservation:
    cents = model.cost_cents(input_tokens, max_output if max_output is not None else DEFAULT_OUTPUT_CAP)
    res = Reservation(f"llm_{uuid.uuid4().hex}", cents, who.account_id, who.key_id)
    async with db.write() as conn:
        await ledger.reserve(conn, who.account_id, who.key_id, res.request_id, cents, model=model.id,
                             guardrail_id=guardrail_id)
    return res


async def settle(db: Database, res: Reservation, model: LlmModel, usage: Usage) -> int:
    cost = model.cost_micro_cents(usage.input_tokens, usage.output_tokens, usage.cached_tokens)
    async with db.write() as conn:
        return await ledger.settle_usage(conn, res.account_id, res.api_key_id, res.request_id, res.cents, cost)


async def refund(db: Database, res: Reservation, why: str) -> None:
    async with db.write() as conn:
        await ledger.refund(conn, res.account_id, res.api_key_id, res.request_id, res.cents, note=why)
