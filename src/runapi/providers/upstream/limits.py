"""Per-deployment admission in this process: how many jobs it holds (max_concurrency) and whether it asked
us to back off (429 + Retry-After).

A job holds its slot from submission until it finishes, across polls and worker steps. Slots are refreshed on
every poll and forgotten when untouched for `stale_seconds` (a task that timed out or moved to another
process), so a lost release can never wedge a deployment. Limits are per process: with several worker
processes each keeps its own count."""

from __future__ import annotations

import time

DEFAULT_COOLDOWN_SECONDS = 5.0


class Admission:
    def __init__(self, stale_seconds: float = 900.0):
        self.stale_seconds = stale_seconds
        self._held: dict[str, dict[str, float]] = {}
        self._cool_until: dict[str, float] = {}

    def _slots(self, deployment: str) -> dict[str, float]:
        slots = self._held.setdefault(deployment, {})
        cutoff = time.monotonic() - self.stale_seconds
        for task_id in [t for t, seen in slots.items() if seen < cutoff]:
            del slots[task_id]
        return slots

    def acquire(self, deployment: str, task_id: str, limit: int | None) -> bool:
        slots = self._slots(deployment)
        if task_id in slots or limit is None or len(slots) < limit:
            slots[task_id] = time.monotonic()
            return True
        return False

    def touch(self, deployment: str, task_id: str) -> None:
        """A job found running upstream counts, even above the limit (e.g. after a restart)."""
        self._slots(deployment)[task_id] = time.monotonic()

    def release(self, deployment: str, task_id: str) -> None:
        self._held.get(deployment, {}).pop(task_id, None)

    def held(self, deployment: str) -> int:
        return len(self._slots(deployment))

    def cool_down(self, deployment: str, seconds: float | None) -> None:
        until = time.monotonic() + (seconds if seconds is not None else DEFAULT_COOLDOWN_SECONDS)
        self._cool_until[deployment] = max(self._cool_until.get(deployment, 0.0), until)

    def cooling(self, deployment: str) -> float:
        """Seconds until the deployment takes new jobs again (0: now)."""
        return max(self._cool_until.get(deployment, 0.0) - time.monotonic(), 0.0)
