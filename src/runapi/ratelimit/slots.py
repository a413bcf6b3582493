"""Requests in flight per counter (`max_parallel_requests`): a concurrency limit, which the `limits` library
does not keep. In one process a counter; across processes a Redis sorted set of leases scored by their
expiry, so a process that dies mid-request frees its slots when the leases run out instead of never."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any, Protocol


class Slots(Protocol):
    async def acquire(self, bucket: str, limit: int) -> str | None:
        """A lease on one of `limit` slots of `bucket`, or None when all are taken."""
        ...

    async def release(self, bucket: str, lease: str) -> None: ...

    async def aclose(self) -> None: ...


class LocalSlots:
    """Exact within one process: check and take happen with no await between them."""

    def __init__(self) -> None:
        self.used: dict[str, int] = {}

    async def acquire(self, bucket: str, limit: int) -> str | None:
        taken = self.used.get(bucket, 0)
        if taken >= limit:
            return None
        self.used[bucket] = taken + 1
        return bucket

    async def release(self, bucket: str, lease: str) -> None:
        left = self.used.get(bucket, 0) - 1
        if left > 0:
            self.used[bucket] = left
        else:
            self.used.pop(bucket, None)

    async def aclose(self) -> None:
        return None


# Drop expired leases, then take a slot if one is free; Redis's clock decides expiry, so hosts' clocks do not.
ACQUIRE = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', t)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], t + tonumber(ARGV[3]), ARGV[2])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3])) + 1)
return 1
"""


# Push back the expiry of leases still held (XX: never re-add one already released or expired).
RENEW = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000 + tonumber(ARGV[1])
for i = 2, #ARGV, 2 do
  redis.call('ZADD', ARGV[i], 'XX', t, ARGV[i + 1])
  redis.call('EXPIRE', ARGV[i], math.ceil(tonumber(ARGV[1])) + 1)
end
return 1
"""

log = logging.getLogger("runapi.ratelimit")


class RedisSlots:
    """Exact across every process sharing the Redis: acquiring is one Lua script (atomic). A lease lives
    `lease_seconds` and this process renews the ones it holds every third of that, so a long stream keeps its
    slot and a dead process's slots free within one lease."""

    def __init__(self, url: str, prefix: str, lease_seconds: float):
        import redis.asyncio as aioredis  # only with Redis configured: redis-py loads OpenTelemetry's SDK if present

        self.redis_error: type[BaseException] = aioredis.RedisError
        self.client: aioredis.Redis = aioredis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        self.prefix = prefix
        self.lease_seconds = lease_seconds
        self._acquire: Any = self.client.register_script(ACQUIRE)
        self._renew: Any = self.client.register_script(RENEW)
        self.held: dict[str, str] = {}  # lease -> its bucket's Redis key, while this process holds it
        self._renewer: asyncio.Task[None] | None = None

    def key(self, bucket: str) -> str:
        return f"{self.prefix}:parallel:{bucket}"

    async def acquire(self, bucket: str, limit: int) -> str | None:
        lease = uuid.uuid4().hex
        got = await self._acquire(keys=[self.key(bucket)], args=[limit, lease, self.lease_seconds])
        if int(got) != 1:
            return None
        self.held[lease] = self.key(bucket)
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew_held(), name="rate-limit-leases")
        return lease

    async def release(self, bucket: str, lease: str) -> None:
        self.held.pop(lease, None)
        await self.client.zrem(self.key(bucket), lease)

    async def _renew_held(self) -> None:
        while self.held:
            await asyncio.sleep(self.lease_seconds / 3)
            args: list[Any] = [self.lease_seconds]
            for lease, key in list(self.held.items()):
                args += [key, lease]
            if len(args) > 1:
                try:
                    await self._renew(keys=[], args=args)
                except (self.redis_error, OSError) as exc:  # retried next round; past the lease, slots free
                    log.warning("renewing %d rate limit lease(s) failed: %s", len(self.held), exc)

    async def aclose(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
        await self.client.aclose()
