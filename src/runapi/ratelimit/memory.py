"""The in-process storage: the `limits` library's MemoryStorage, with its moving windows kept as deques of
hit times. The library keeps a window as a list it inserts at the front of (O(hits in the window) per hit) and
copies on every expiry pass, which under a high limit and a busy key costs more the busier the key is; here a
hit is O(1) amortized (each hit time is appended once and leaves once), with the same exact answers.
Sliding window counters (tpm) are the library's own."""

from __future__ import annotations

import time
from collections import deque

from limits.aio.storage import MemoryStorage


class WindowMemoryStorage(MemoryStorage):
    def __init__(self) -> None:
        super().__init__()
        self.windows: dict[str, deque[float]] = {}
        self._swept = time.time()

    def _window(self, key: str, expiry: float, now: float) -> deque[float]:
        hits = self.windows.get(key)
        if hits is None:
            hits = self.windows[key] = deque()
        cutoff = now - expiry
        while hits and hits[0] < cutoff:  # a hit exactly one window old still counts, as in the library
            hits.popleft()
        return hits

    async def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        # no await in here: check and record are one step for every task of this process
        if amount > limit:
            return False
        now = time.time()
        self._sweep(now, expiry)
        hits = self._window(key, expiry, now)
        if len(hits) + amount > limit:
            return False
        hits.extend([now] * amount)
        return True

    async def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        """(the oldest hit still in the window, how many hits it holds), as the library answers."""
        now = time.time()
        hits = self._window(key, expiry, now)
        return (hits[0], len(hits)) if hits else (now, 0)

    def _sweep(self, now: float, expiry: float) -> None:
        """Once a window: forget the windows of keys idle for a whole window, so memory follows active keys."""
        if now - self._swept < expiry:
            return
        self._swept = now
        for key in [k for k, hits in self.windows.items() if not hits or hits[-1] < now - expiry]:
            del self.windows[key]

    async def clear(self, key: str) -> None:
        self.windows.pop(key, None)
        await super().clear(key)

    async def reset(self) -> int | None:
        self.windows.clear()
        return await super().reset()
