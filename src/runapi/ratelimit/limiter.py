"""The counters behind the rate limits: requests per minute in a moving window (exact: every request in the
last 60 s counts, with no burst at a window edge), tokens per minute in a sliding window counter (a token
count is a cost of thousands, which a moving window would store one entry per token for), both through the
`limits` library's strategies: in one process its MemoryStorage (with cheaper moving windows, `memory`),
shared by every process its RedisStorage when Redis is configured. Requests in flight are `slots`."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter, SlidingWindowCounterRateLimiter
from limits.errors import StorageError

from ..errors import RateLimited
from ..observability.metrics import record_rate_limited
from .memory import WindowMemoryStorage
from .policy import WINDOW_SECONDS, Bound, RateLimits, retry_after_moving, retry_after_sliding
from .slots import LocalSlots, RedisSlots, Slots

log = logging.getLogger("runapi.ratelimit")

# Redis unreachable or too slow: the limits are not enforced until it is back (they protect balances from
# runaway clients; the balance itself stays exact in the database), rather than every request failing.
UNAVAILABLE: tuple[type[BaseException], ...] = (StorageError, OSError, TimeoutError)  # + RedisError with Redis
REDIS_TIMEOUT = 2.0  # seconds: a stalled Redis delays a request this long at most, per call

# Tokens are recorded whatever the limit (they were used): the window's own ceiling is out of reach, and the
# limit is compared with the count read back.
TOKEN_CEILING = RateLimitItemPerMinute(10**15)


@dataclass
class Admission:
    """What one admitted request holds: its in-flight slots (released when its response ends) and the token
    counters its LLM usage is recorded in."""

    bounds: tuple[Bound, ...]
    leases: list[tuple[str, str]] = field(default_factory=list)  # (bucket, lease)

    @property
    def token_bounds(self) -> tuple[Bound, ...]:
        return tuple(b for b in self.bounds if b.kind == "tpm")


class RateLimiter:
    def __init__(self, account: RateLimits, redis_url: str | None = None, prefix: str = "runapi", lease: float = 600):
        self.account = account  # the instance-wide per-account limits (settings)
        storage: MemoryStorage | RedisStorage
        self.slots: Slots
        self.unavailable: tuple[type[BaseException], ...]  # what means "the counters are unreachable"
        if redis_url:
            storage = RedisStorage(
                f"async+{redis_url}",
                implementation="redispy",
                key_prefix=f"{prefix}:limits",
                wrap_exceptions=True,
                socket_timeout=REDIS_TIMEOUT,
                socket_connect_timeout=REDIS_TIMEOUT,
            )
            self.slots = RedisSlots(redis_url, f"{prefix}:limits", lease)
            self.unavailable = (*UNAVAILABLE, self.slots.redis_error)
        else:
            storage = WindowMemoryStorage()
            self.slots = LocalSlots()
            self.unavailable = UNAVAILABLE
        self.storage = storage
        self.requests = MovingWindowRateLimiter(storage)
        self.tokens = SlidingWindowCounterRateLimiter(storage)
        self._items: dict[int, RateLimitItem] = {}
        self._warned_at = 0.0

    def per_minute(self, amount: int) -> RateLimitItem:
        item = self._items.get(amount)
        if item is None:
            item = self._items[amount] = RateLimitItemPerMinute(amount)
        return item

    async def admit(self, bounds: tuple[Bound, ...], check_tokens: bool = False) -> Admission:
        """Count the request in each rpm window and take a slot of each parallel limit, or raise RateLimited
        (holding nothing). With `check_tokens`, refuse too while a tpm window is at or over its limit."""
        admission = Admission(bounds)
        try:
            for b in bounds:
                if b.kind == "rpm" and not await self.requests.hit(self.per_minute(b.limit), b.bucket):
                    stats = await self.requests.get_window_stats(self.per_minute(b.limit), b.bucket)
                    raise refused(b, retry_after_moving(stats.reset_time - WINDOW_SECONDS, time.time()))
            if check_tokens:
                await self.check_tokens(bounds)
            for b in bounds:
                if b.kind == "parallel":
                    lease = await self.slots.acquire(b.bucket, b.limit)
                    if lease is None:
                        await self.release(admission)
                        raise refused(b, 1)  # a slot frees when any request of the key ends: retry soon
                    admission.leases.append((b.bucket, lease))
        except self.unavailable as exc:
            self._unavailable(exc)  # admitted, holding what it got (released as usual)
        return admission

    async def check_tokens(self, bounds: Iterable[Bound]) -> None:
        try:
            for b in bounds:
                if b.kind == "tpm":
                    key = TOKEN_CEILING.key_for(b.bucket)
                    previous, previous_ttl, current, current_ttl = await self.storage.get_sliding_window(
                        key, WINDOW_SECONDS
                    )
                    if previous * previous_ttl / WINDOW_SECONDS + current >= b.limit:
                        raise refused(b, retry_after_sliding(b.limit, previous, previous_ttl, current, current_ttl))
        except self.unavailable as exc:
            self._unavailable(exc)

    async def record_tokens(self, admission: Admission | None, tokens: int) -> None:
        """Add one LLM call's tokens (input + output) to the key's and the account's tpm windows."""
        if admission is None or tokens <= 0:
            return
        try:
            for b in admission.token_bounds:
                await self.tokens.hit(TOKEN_CEILING, b.bucket, cost=tokens)
        except self.unavailable as exc:
            self._unavailable(exc)

    async def release(self, admission: Admission) -> None:
        leases, admission.leases = admission.leases, []
        for bucket, lease in leases:
            try:
                await self.slots.release(bucket, lease)
            except self.unavailable as exc:  # the lease runs out on its own
                self._unavailable(exc)

    def _unavailable(self, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._warned_at > 30:  # one line per 30 s, not one per request
            self._warned_at = now
            log.warning("rate limit counters unavailable (%s); requests pass unlimited until they are back", exc)

    async def aclose(self) -> None:
        await self.slots.aclose()


def refused(bound: Bound, retry_after: int) -> RateLimited:
    record_rate_limited(bound.kind, bound.scope)
    return RateLimited(bound.refusal(), code="rate_limit_exceeded", retry_after=retry_after)
