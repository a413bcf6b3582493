"""Which rate limits bind one request and how long a refused client should wait: pure logic, no I/O.

A key's own limit and those of the guardrails in force for it (on the key, on its member) all apply to the
key's own counters, so the stricter value wins; the account's (instance-wide settings) apply to one counter
shared by all the account's keys."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

KINDS = ("rpm", "tpm", "parallel")
FIELDS = ("rpm_limit", "tpm_limit", "max_parallel_requests")  # their columns and API fields, by kind
SCOPES = ("key", "guardrail", "account")  # who set the limit that refused: the metric's label
MAX_LIMIT = 2**31 - 1  # the columns are INTEGER
WINDOW_SECONDS = 60  # rpm and tpm are per minute
MESSAGE = "Too many requests. Please retry later."  # the documented RATE_LIMIT_EXCEEDED message
UNITS = {"rpm": "requests per minute", "tpm": "tokens per minute", "parallel": "requests in flight"}


@dataclass(frozen=True)
class RateLimits:
    """The three limits of one key, guardrail or account; None: no limit of that kind."""

    rpm: int | None = None
    tpm: int | None = None
    parallel: int | None = None

    def of(self, kind: str) -> int | None:
        return self.rpm if kind == "rpm" else self.tpm if kind == "tpm" else self.parallel

    @property
    def none(self) -> bool:
        return self.rpm is None and self.tpm is None and self.parallel is None


NO_LIMITS = RateLimits()


@dataclass(frozen=True)
class Bound:
    """One limit in force for a request: `limit` of `kind` on the counter `bucket`, set by `scope`."""

    kind: str  # rpm | tpm | parallel
    limit: int
    bucket: str  # "key:<id>" or "account:<id>": whose counter it is
    scope: str  # key | guardrail | account

    def refusal(self) -> str:
        whose = {"key": "this API key's", "guardrail": "this API key's guardrail", "account": "this account's"}
        return f"{MESSAGE} ({whose[self.scope]} limit: {self.limit} {UNITS[self.kind]})"


def bounds(
    key_id: str, account_id: int, key: RateLimits, guardrails: Iterable[RateLimits], account: RateLimits
) -> tuple[Bound, ...]:
    """Every limit in force, key counters first: per kind the stricter of the key's and its guardrails' (a tie
    is the key's own), then the account's."""
    rules = tuple(guardrails)
    out: list[Bound] = []
    for kind in KINDS:
        best, scope = key.of(kind), "key"
        for g in rules:
            value = g.of(kind)
            if value is not None and (best is None or value < best):
                best, scope = value, "guardrail"
        if best is not None:
            out.append(Bound(kind, best, f"key:{key_id}", scope))
    for kind in KINDS:
        value = account.of(kind)
        if value is not None:
            out.append(Bound(kind, value, f"account:{account_id}", "account"))
    return tuple(out)


def retry_after_moving(oldest: float, now: float, window: float = WINDOW_SECONDS) -> int:
    """Seconds until the oldest request in a full moving window leaves it (and a slot frees): at least 1."""
    return max(1, math.ceil(oldest + window - now))


def retry_after_sliding(
    limit: int, previous: int, previous_ttl: float, current: int, current_ttl: float, window: float = WINDOW_SECONDS
) -> int:
    """Seconds until a sliding window counter drops below `limit`. Its count is `previous * previous_ttl / window
    + current`: the previous window's weight falls to 0 as the current window runs out; the current window ends
    `current_ttl - window` seconds from now (the `limits` storages keep a window's counter two windows long)."""
    if current < limit:
        if previous <= 0:
            return 1
        wait = previous_ttl - (limit - current) * window / previous  # previous * (ttl - t) / window + current < limit
    else:
        # the current window becomes the previous one, whose weight then falls from 1 over a whole window
        ends_in = current_ttl - window if current_ttl > window else previous_ttl
        wait = ends_in + window * (1 - limit / current)
    return max(1, math.ceil(wait))
