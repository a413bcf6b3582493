"""Sign-in throttling against password guessing: failed attempts counted per email and per client address in
fixed windows. Counts live in this process (a few bytes per key, dropped when their window ends): with several
server processes each counts its own share, which still bounds guessing to a few dozen tries per window."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

WINDOW_SECONDS = 15 * 60
MAX_FAILURES_PER_EMAIL = 5
# Higher: everyone behind one proxy or NAT shares an address, and one user's typos must not lock out the rest.
MAX_FAILURES_PER_ADDRESS = 30
MAX_KEYS = 100_000  # beyond this many tracked keys the oldest windows are dropped (memory bound)


@dataclass
class WindowCounter:
    """Events per key in fixed windows of `window` seconds."""

    window: float = WINDOW_SECONDS
    counts: dict[str, tuple[float, int]] = field(default_factory=dict)  # key -> (window start, count)

    def count(self, key: str, now: float | None = None) -> int:
        now = time.time() if now is None else now
        start, n = self.counts.get(key, (0.0, 0))
        return n if now - start < self.window else 0

    def add(self, key: str, now: float | None = None) -> int:
        now = time.time() if now is None else now
        start, n = self.counts.get(key, (0.0, 0))
        if now - start >= self.window:
            start, n = now, 0
        if len(self.counts) >= MAX_KEYS:
            self._sweep(now)
        self.counts[key] = (start, n + 1)
        return n + 1

    def retry_after(self, key: str, now: float | None = None) -> int:
        now = time.time() if now is None else now
        start, _ = self.counts.get(key, (now, 0))
        return max(1, math.ceil(start + self.window - now))

    def clear(self, key: str) -> None:
        self.counts.pop(key, None)

    def _sweep(self, now: float) -> None:
        for key in [k for k, (start, _) in self.counts.items() if now - start >= self.window]:
            del self.counts[key]
        while len(self.counts) >= MAX_KEYS:  # all live: drop the oldest
            del self.counts[min(self.counts, key=lambda k: self.counts[k][0])]


@dataclass
class SignInThrottle:
    failures: WindowCounter = field(default_factory=WindowCounter)

    @staticmethod
    def _keys(email: str, address: str) -> tuple[str, str]:
        return f"email:{email.strip().casefold()}", f"addr:{address}"

    def blocked_for(self, email: str, address: str, now: float | None = None) -> int | None:
        """Seconds until another attempt is allowed, or None when one is allowed now."""
        by_email, by_address = self._keys(email, address)
        if self.failures.count(by_email, now) >= MAX_FAILURES_PER_EMAIL:
            return self.failures.retry_after(by_email, now)
        if self.failures.count(by_address, now) >= MAX_FAILURES_PER_ADDRESS:
            return self.failures.retry_after(by_address, now)
        return None

    def failed(self, email: str, address: str, now: float | None = None) -> None:
        for key in self._keys(email, address):
            self.failures.add(key, now)

    def succeeded(self, email: str) -> None:
        self.failures.clear(self._keys(email, "")[0])
