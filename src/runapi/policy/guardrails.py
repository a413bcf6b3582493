"""Guardrail enforcement on the request path: find the caller's guardrails in force (cached) and refuse what
they forbid (403): models, providers; and name their budgets, which the reservation checks and charges in one
step (billing/limits.py)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import bindparam, or_, select

from ..auth.principal import Principal
from ..billing.limits import Limit, budget_scope
from ..coord import ALL, Coordinator
from ..errors import Forbidden
from ..singleflight import SingleFlight
from ..store import Database
from ..store.schema import guardrail_assignments, guardrails

Rules = tuple[dict[str, Any], ...]  # the guardrails in force for one key: the key's first, then its member's


# The undeleted guardrails bound to a key or to its member (on_key: the key's id for a key binding).
GUARDRAILS_QUERY = (
    select(guardrails, guardrail_assignments.c.api_key_id.label("on_key"))
    .join(guardrail_assignments, guardrail_assignments.c.guardrail_id == guardrails.c.id)
    .where(
        guardrails.c.deleted_at.is_(None),
        or_(
            guardrail_assignments.c.api_key_id == bindparam("key_id"),
            guardrail_assignments.c.membership_id == bindparam("membership_id"),
        ),
    )
)


async def effective_guardrails(db: Database, who: Principal) -> Rules:
    """The enabled guardrails bound to the key and to its member. Both apply (the effective policy is their
    intersection): a key-level guardrail narrows the member's, it never replaces it, so binding a lax guardrail
    to one's own key, or disabling the key's, leaves the member's (an admin's) in force."""
    rows = await db.read_rows(GUARDRAILS_QUERY, key_id=who.key_id, membership_id=who.membership_id)
    rows = sorted(rows, key=lambda r: r["on_key"] is None)  # key-level first
    in_force: list[dict[str, Any]] = []
    for r in rows:
        if r["enabled"] and all(g["id"] != r["id"] for g in in_force):  # the same one on key and member: once
            in_force.append(dict(r))
    return tuple(in_force)


class GuardrailCache:
    """Each key's effective guardrail, kept `ttl` seconds so the hot path (every LLM call, every task) skips a
    query. Any guardrail or assignment change drops the whole cache, here at once and in every other process
    through the coordinator; without a shared coordinator other processes see it within `ttl`."""

    MAX_ENTRIES = 10_000

    def __init__(self, db: Database, ttl: float):
        self.db = db
        self.ttl = ttl
        self.coord: Coordinator | None = None
        self._entries: dict[tuple[str | None, str | None], tuple[float, Rules]] = {}
        self._generation = 0  # a lookup that raced an invalidation must not store its stale answer
        self._flights: SingleFlight[tuple[str | None, str | None], Rules] = SingleFlight()

    def attach(self, coord: Coordinator) -> None:
        self.coord = coord
        coord.subscribe_invalidation("guardrail", self._drop)

    async def get(self, who: Principal) -> Rules:
        key = (who.key_id, who.membership_id)
        hit = self._entries.get(key)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            return hit[1]
        return await self._flights.do(key, lambda: self._lookup(who, key))  # one lookup however many miss

    async def _lookup(self, who: Principal, key: tuple[str | None, str | None]) -> Rules:
        generation = self._generation
        found = await effective_guardrails(self.db, who)
        if generation == self._generation and self.ttl > 0:
            if len(self._entries) >= self.MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (time.monotonic() + self.ttl, found)
        return found

    def changed(self) -> None:
        if self.coord is not None:
            self.coord.publish_invalidation("guardrail", ALL)  # delivered here synchronously too
        else:
            self._drop(ALL)

    def _drop(self, _key: str) -> None:
        self._generation += 1
        self._entries.clear()
        self._flights.forget()  # later callers must not share a lookup that may have read the old rules


def provider_permitted(g: dict[str, Any] | None, provider: str) -> bool:
    """Whether guardrail `g` (None: no guardrail) lets a request go to `provider` (block lists win)."""
    if g is None:
        return True
    if g["blocked_providers"] and provider in g["blocked_providers"]:
        return False
    return not (g["allowed_providers"] and provider not in g["allowed_providers"])


@dataclass(frozen=True)
class Guarded:
    """What the caller's guardrails decided for one request."""

    guardrail_id: str | None  # the first guardrail in force (recorded with the spend), if any
    member_guardrail_id: str | None  # the member's guardrail when the key's applies too (also recorded)
    provider: str  # the first of the candidates they permit: where the request goes
    barred: tuple[str, ...]  # candidates they forbid: never fallen back to
    limits: tuple[Limit, ...] = ()  # their budgets this request counts towards: checked when reserving


def guardrail_limits(g: dict[str, Any], model: str | None) -> tuple[Limit, ...]:
    """The budgets of guardrail `g` a request for `model` counts towards: its total, and the model budgets
    whose scope the model is in (budgets never refuse requests outside their scope). Their counters are
    re-derived from the ledger whenever the guardrail changes (`version`)."""
    gid, name, version = g["id"], g["name"], repr(g["updated_at"])
    out = []
    if g["credit_limit_cents"] is not None:
        interval = g["credit_limit_reset_interval"]
        out.append(
            Limit(
                f"guardrail:{gid}:{interval or 'all'}",
                interval,
                g["credit_limit_cents"],
                f"Guardrail {name} credit limit exceeded",
                version,
                guardrail_id=gid,
            )
        )
    for budget in g["model_budgets"] or []:
        exclude = budget["match_mode"] == "exclude"
        if (model in budget["models"]) == exclude:
            continue
        interval = budget["credit_limit_reset_interval"]
        out.append(
            Limit(
                budget_scope(gid, budget["models"], budget["match_mode"], interval),
                interval,
                budget["credit_limit_cents"],
                f"Guardrail {name} model budget exceeded",
                version,
                guardrail_id=gid,
                models=tuple(budget["models"]),
                exclude_models=exclude,
            )
        )
    return tuple(out)


def _check_model_and_provider(g: dict[str, Any], model: str | None, provider: str) -> None:
    name = g["name"]
    if model is not None:
        if g["blocked_models"] and model in g["blocked_models"]:
            raise Forbidden(f"Model {model} is blocked by guardrail {name}")
        if g["allowed_models"] and model not in g["allowed_models"]:
            raise Forbidden(f"Model {model} is not allowed by guardrail {name}")
    if not provider_permitted(g, provider):
        if g["blocked_providers"] and provider in g["blocked_providers"]:
            raise Forbidden(f"Provider {provider} is blocked by guardrail {name}")
        raise Forbidden(f"Provider {provider} is not allowed by guardrail {name}")


class HasGuardrails(Protocol):
    """What check_guardrail uses of the services: the guardrail cache."""

    @property
    def guardrails(self) -> GuardrailCache: ...


async def check_guardrail(rt: HasGuardrails, who: Principal, model: str | None, candidates: list[str]) -> Guarded:
    """Route through the caller's guardrails (one cached lookup): the first of `candidates` (providers in
    fallback order) that every guardrail in force permits serves the request. Raise 403 if any of them forbids
    the model or every candidate; the budgets of all of them are checked when the request reserves
    (`Guarded.limits`)."""
    rules = await rt.guardrails.get(who)
    permitted = [p for p in candidates if all(provider_permitted(g, p) for g in rules)]
    provider = (permitted or candidates)[0]
    for g in rules:
        _check_model_and_provider(g, model, provider)
    return Guarded(
        rules[0]["id"] if rules else None,
        rules[1]["id"] if len(rules) > 1 else None,
        provider,
        tuple(p for p in candidates if p not in permitted),
        tuple(limit for g in rules for limit in guardrail_limits(g, model)),
    )
