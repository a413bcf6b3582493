"""Requests in flight per counter (`max_parallel_requests`): a concurrency limit, which the `limits` library
does not keep. In one process a counter; across processes a Redis sorted set of leases scored by their
expiry, so a process that dies mid-request frees its slots when the leases run out instead of never."""

from __future__ import annotations

import uuid
from typing import Any, Protocol

import redis.asyncio as aioredis


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


class RedisSlots:
    """Exact across every process sharing the Redis: acquiring is one Lua script (atomic). A lease lives
    `lease_seconds`; a request still running past that loses its slot (keep it above the longest request)."""

    def __init__(self, url: str, prefix: str, lease_seconds: float):
        self.client: aioredis.Redis = aioredis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        self.prefix = prefix
        self.lease_seconds = lease_seconds
        self._acquire: Any = self.client.register_script(ACQUIRE)

    def key(self, bucket: str) -> str:
        return f"{self.prefix}:parallel:{bucket}"

    async def acquire(self, bucket: str, limit: int) -> str | None:
        lease = uuid.uuid4().hex
        got = await self._acquire(keys=[self.key(bucket)], args=[limit, lease, self.lease_seconds])
        return lease if int(got) == 1 else None

    async def release(self, bucket: str, lease: str) -> None:
        await self.client.zrem(self.key(bucket), lease)

    async def aclose(self) -> None:
        await self.client.aclose()
