"""How each media deployment has been doing lately, in this process: the router records every upstream call
(start or check) with its duration and outcome; a small rolling window answers the operator's "is fal failing
right now?" (GET /api/v1/admin/providers, `runapi providers --health`), and every call is also counted in
/metrics (runapi_upstream_calls_total, runapi_upstream_call_duration_seconds) for dashboards over time.

Outcomes: ok; rejected (the upstream refused the request itself, e.g. validation or content policy: the
request's fault, not a sign of ill health); lost (accepted, then failed on the upstream's side); connection,
rate_limited, server_error, refused (e.g. 401/403/404: a configuration problem). Refusals by our own table
(out_of_reach) make no call and are not recorded. Per process: with several workers each keeps its own window
(the metrics merge across processes; see observability/multiprocess.py)."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...observability.metrics import record_upstream_call, record_upstream_cool_down, upstream_error_kind
from .errors import UpstreamError

WINDOW_CALLS = 200  # calls kept per deployment
WINDOW_SECONDS = 900.0  # and none older than this
HEALTHY = frozenset({"ok", "rejected"})
MAX_ERROR_TEXT = 300


def call_outcome(error: UpstreamError | None) -> str:
    """The outcome label of one call (a small fixed set, as a metrics label must be)."""
    if error is None:
        return "ok"
    if not error.retryable:
        return "rejected"
    if error.job_failed:
        return "lost"
    return upstream_error_kind(error.status)  # connection | rate_limited | server_error | refused


@dataclass(frozen=True)
class Call:
    at: float  # monotonic
    seconds: float
    outcome: str


class UpstreamHealth:
    def __init__(
        self,
        window_calls: int = WINDOW_CALLS,
        window_seconds: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.window_calls = window_calls
        self.window_seconds = window_seconds
        self.clock = clock
        self._calls: dict[str, deque[Call]] = {}
        self._last_error: dict[str, tuple[float, str]] = {}

    def record(self, deployment: str, seconds: float, error: UpstreamError | None = None) -> None:
        """One upstream call made for `deployment` that took `seconds` (error: how it failed, if it did)."""
        if error is not None and error.out_of_reach:
            return  # our own table refused: no call was made
        seconds = max(seconds, 0.0)
        outcome = call_outcome(error)
        calls = self._calls.setdefault(deployment, deque(maxlen=self.window_calls))
        calls.append(Call(self.clock(), seconds, outcome))
        if outcome not in HEALTHY and error is not None:
            self._last_error[deployment] = (self.clock(), str(error)[:MAX_ERROR_TEXT])
        record_upstream_call(deployment, outcome, seconds)

    def cooling_down(self, deployment: str, seconds: float) -> None:
        """The deployment asked us to back off for `seconds` (429 Retry-After): exported as a wall-clock time."""
        record_upstream_cool_down(deployment, time.time() + max(seconds, 0.0))

    def _recent(self, deployment: str) -> list[Call]:
        cutoff = self.clock() - self.window_seconds
        return [c for c in self._calls.get(deployment, ()) if c.at >= cutoff]

    def snapshot(self, deployment: str) -> dict[str, Any]:
        """The window's calls, error rate (failures other than `rejected`, over all calls; None without
        calls), latency percentiles and the last failure (how long ago, and its message)."""
        calls = self._recent(deployment)
        errors = sum(1 for c in calls if c.outcome not in HEALTHY)
        by_outcome: dict[str, int] = {}
        for c in calls:
            by_outcome[c.outcome] = by_outcome.get(c.outcome, 0) + 1
        durations = sorted(c.seconds for c in calls)
        last = self._last_error.get(deployment)
        return {
            "window_seconds": self.window_seconds,
            "calls": len(calls),
            "errors": errors,
            "error_rate": round(errors / len(calls), 4) if calls else None,
            "outcomes": dict(sorted(by_outcome.items())),
            "latency_p50_seconds": _percentile(durations, 0.50),
            "latency_p95_seconds": _percentile(durations, 0.95),
            "last_error": last[1] if last else None,
            "last_error_seconds_ago": round(self.clock() - last[0], 3) if last else None,
        }


def _percentile(ordered: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not ordered:
        return None
    return round(ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))], 4)
