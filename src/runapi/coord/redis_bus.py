"""Signals between processes over Redis pub/sub (`RUNAPI_REDIS_URL`).

Pub/sub is fire-and-forget, which suits hints: a process that misses a message (it was restarting, Redis
blipped) still polls the database, and after any gap in its subscription it drops all its caches and wakes
its workers, since it cannot know what it missed. Publishing queues the message and returns; a sender task
pipelines the queue to Redis. Invalidations are retried for a while when Redis is down; wake-ups and
finish notifications are dropped (the pollers cover them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid

import redis.asyncio as aioredis

from .base import Coordinator

log = logging.getLogger("runapi.coord")

CHANNELS = ("inval", "wake", "done")
INVALIDATION_RETRY_SECONDS = 30.0  # after this long an invalidation is moot: every cache TTL has run out
SEND_BATCH = 256


class RedisCoordinator(Coordinator):
    shared = True

    def __init__(self, url: str, prefix: str = "runapi"):
        super().__init__()
        self.url = url
        self.prefix = prefix
        self.origin = uuid.uuid4().hex[:12]  # our own messages come back to us: skip them
        self._client: aioredis.Redis | None = None
        self._outbox: asyncio.Queue[tuple[str, str, float]] | None = None
        self._wake_queued = False  # many creates in a burst need only one wake-up on the wire
        self._subscribed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def channel(self, name: str) -> str:
        return f"{self.prefix}:{name}"

    async def start(self) -> None:
        self._client = aioredis.Redis.from_url(
            self.url, decode_responses=True, health_check_interval=10, socket_connect_timeout=5, socket_keepalive=True
        )
        self._outbox = asyncio.Queue()
        self._tasks = [
            asyncio.create_task(self._listen(), name="coord-listen"),
            asyncio.create_task(self._sender(), name="coord-send"),
        ]
        try:  # signals sent just after start-up must not be missed
            await asyncio.wait_for(self._subscribed.wait(), timeout=10)
        except TimeoutError:
            log.error("Redis at %s unreachable; signals stay local until it is back", _safe(self.url))

    async def close(self) -> None:
        if self._outbox is not None:  # flush what is queued, briefly
            deadline = time.monotonic() + 2
            # a queue offers no "became empty" event: poll it briefly
            while not self._outbox.empty() and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        self._outbox = None

    def _send(self, channel: str, payload: str) -> None:
        if self._outbox is None:
            return
        if channel == "wake":
            if self._wake_queued:
                return
            self._wake_queued = True
        self._outbox.put_nowait((channel, payload, time.monotonic()))

    async def _sender(self) -> None:
        assert self._outbox is not None and self._client is not None
        failures = 0
        while True:
            batch = [await self._outbox.get()]
            while len(batch) < SEND_BATCH and not self._outbox.empty():
                batch.append(self._outbox.get_nowait())
            if any(ch == "wake" for ch, _, _ in batch):
                self._wake_queued = False
            try:
                async with self._client.pipeline(transaction=False) as pipe:
                    for ch, payload, _ in batch:
                        pipe.publish(self.channel(ch), f"{self.origin}|{payload}")
                    await pipe.execute()
                failures = 0
            except asyncio.CancelledError:
                raise
            except (aioredis.RedisError, OSError) as exc:
                failures += 1
                log.warning("publishing %d signal(s) to Redis failed: %s", len(batch), exc)
                now = time.monotonic()
                for item in batch:
                    if item[0] == "inval" and now - item[2] < INVALIDATION_RETRY_SECONDS:
                        self._outbox.put_nowait(item)
                await asyncio.sleep(min(0.1 * 2**failures, 2.0))

    async def _listen(self) -> None:
        assert self._client is not None
        had_gap = False
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(*(self.channel(c) for c in CHANNELS))
                if had_gap:
                    log.info("Redis subscription restored; dropping caches in case we missed invalidations")
                    self._deliver_everything_missed()
                self._subscribed.set()
                while True:
                    msg = await pubsub.get_message(timeout=5.0)
                    if msg and msg.get("type") == "message":
                        self._on_message(msg["channel"], msg["data"])
            except asyncio.CancelledError:
                raise
            except (aioredis.RedisError, OSError) as exc:
                if not had_gap:
                    log.warning("Redis subscription lost (%s); retrying", exc)
                had_gap = True
                self._subscribed.clear()
                await asyncio.sleep(0.5)
            finally:
                with contextlib.suppress(aioredis.RedisError, OSError):
                    await pubsub.aclose()

    def _on_message(self, channel: str, data: str) -> None:
        origin, _, payload = data.partition("|")
        if origin == self.origin:
            return  # delivered locally when it was published
        self._deliver_remote(channel.removeprefix(f"{self.prefix}:"), payload)


def _safe(url: str) -> str:
    """The URL without its password, for logs."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    return scheme + sep + rest
