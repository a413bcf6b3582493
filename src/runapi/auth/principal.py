"""Who is calling: resolve a bearer token to its key, account and member role."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import bindparam, select, update

from ..coord import ALL, Coordinator
from ..errors import Forbidden, unauthorized
from ..ratelimit.policy import NO_LIMITS, RateLimits
from ..singleflight import SingleFlight
from ..store import Database
from ..store.schema import api_keys, memberships
from . import tokens


@dataclass(frozen=True)
class Principal:
    key_id: str
    account_id: int
    membership_id: str
    user_id: int
    role: str  # admin | member
    kind: str  # api | management
    allowed_models: tuple[str, ...] | None
    credit_limit_cents: int | None
    credit_limit_reset_interval: str | None
    rate_limits: RateLimits = NO_LIMITS  # the key's own (its guardrails' and the account's apply too)


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


# The keys (with their member's user and role) whose lookup prefix is `lookup` (compiled once: every uncached request)
KEY_QUERY = (
    select(api_keys, memberships.c.user_id, memberships.c.role)
    .join(memberships, memberships.c.id == api_keys.c.membership_id)
    .where(api_keys.c.lookup == bindparam("lookup"))
)


async def authenticate(db: Database, token: str | None) -> Principal:
    if not token or len(token) < tokens.LOOKUP_CHARS or len(token) > 200:
        raise unauthorized()
    rows = await db.read_rows(KEY_QUERY, lookup=tokens.lookup_prefix(token))  # one thread hop on SQLite
    for row in rows:
        if tokens.hashes_match(row["token_hash"], token):
            if not row["enabled"] or row["deleted_at"] is not None:
                raise unauthorized()
            return Principal(
                key_id=row["id"],
                account_id=row["account_id"],
                membership_id=row["membership_id"],
                user_id=row["user_id"],
                role=row["role"],
                kind=row["kind"],
                allowed_models=tuple(row["allowed_models"]) if row["allowed_models"] else None,
                credit_limit_cents=row["credit_limit_cents"],
                credit_limit_reset_interval=row["credit_limit_reset_interval"],
                rate_limits=RateLimits(row["rpm_limit"], row["tpm_limit"], row["max_parallel_requests"]),
            )
    raise unauthorized()


class Authenticator:
    """Caches resolved keys for a few seconds so the hot path skips the database. `forget` drops a changed key
    at once, in every process when a shared coordinator is attached (otherwise others see it within `ttl`)."""

    MAX_ENTRIES = 10_000

    def __init__(self, db: Database, ttl: float = 5.0):
        self.db = db
        self.ttl = ttl
        self._cache: dict[str, tuple[Principal, float]] = {}
        self.last_used: dict[str, float] = {}  # key id -> last request time, flushed in batches
        self.coord: Coordinator | None = None
        self._flights: SingleFlight[str, Principal] = SingleFlight()
        self._generation = 0  # bumped by every drop

    def attach(self, coord: Coordinator) -> None:
        """Broadcast `forget` through `coord`, and drop what other processes say changed."""
        self.coord = coord
        coord.subscribe_invalidation("api_key", self._drop_key)
        coord.subscribe_invalidation("account", self._drop_account)

    async def __call__(self, token: str | None) -> Principal:
        if not token:
            raise unauthorized()
        digest = tokens.token_hash(token)
        hit = self._cache.get(digest)
        now = time.monotonic()
        if hit and hit[1] > now:
            principal = hit[0]
        else:  # one lookup per key however many requests find it missing at once
            principal = await self._flights.do(digest, lambda: self._lookup(token, digest))
        self.last_used[principal.key_id] = time.time()
        return principal

    async def _lookup(self, token: str, digest: str) -> Principal:
        generation = self._generation
        principal = await authenticate(self.db, token)
        if generation == self._generation:  # a lookup that raced a `forget` must not store its stale answer
            if len(self._cache) >= self.MAX_ENTRIES:
                self._cache.clear()
            self._cache[digest] = (principal, time.monotonic() + self.ttl)
        return principal

    async def flush_last_used(self) -> None:
        """Write last_used_at for keys seen since the previous flush (one write per batch, not per request)."""
        if not self.last_used:
            return
        seen, self.last_used = self.last_used, {}
        async with self.db.write() as conn:
            for key_id, at in seen.items():
                await conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=at))

    def forget(self, key_id: str | None = None) -> None:
        """Drop one key (or all) from the cache, here and in every other process, after it changed."""
        if self.coord is not None:
            self.coord.publish_invalidation("api_key", key_id or ALL)  # delivered here synchronously too
        else:
            self._drop_key(key_id or ALL)

    def _drop_key(self, key_id: str) -> None:
        self._drop_where(lambda p: key_id == ALL or p.key_id == key_id)

    def _drop_account(self, account_id: str) -> None:
        self._drop_where(lambda p: account_id == ALL or str(p.account_id) == account_id)

    def _drop_where(self, stale: Callable[[Principal], bool]) -> None:
        self._generation += 1
        self._flights.forget()
        for digest in [d for d, (p, _) in self._cache.items() if stale(p)]:
            self._cache.pop(digest, None)


def require_api_key(p: Principal) -> None:
    """Management keys manage keys; they cannot generate."""
    if p.kind != "api":
        raise Forbidden("Management keys cannot be used for generation; use an API key")
