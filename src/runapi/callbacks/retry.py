"""When a failed callback is tried again: the documented schedule (settings.callback_retry_delays) as the base,
spread by jitter so that the callbacks a receiver's outage piled up do not all come back at the same instant,
and stretched (never shortened) by a receiver's Retry-After on 429/503, within a cap. A 410 Gone ends the
retries: the receiver says the endpoint no longer exists."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime

GONE = 410
# The answers whose Retry-After is honoured (RFC 9110 §10.2.3: with 503, and RFC 6585 §4 with 429).
RETRY_AFTER_STATUSES = frozenset({429, 503})
GONE_ERROR = "HTTP 410 Gone: the receiver says the endpoint is gone; given up without retrying"


def jittered(base: float, jitter: float, rand: Callable[[], float]) -> float:
    """`base` spread uniformly over [base·(1−jitter), base·(1+jitter)]; `rand()` is in [0, 1) (random.random,
    or a fixed source in tests)."""
    return max(0.0, base * (1.0 + jitter * (2.0 * rand() - 1.0)))


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """A Retry-After header (delay-seconds or an HTTP-date) as seconds from `now`; None if absent or not
    understood. A date in the past means 0."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit() and value.isascii():
        # a thousand digits from a hostile receiver is not turned into an int; any cap is far below 10**12
        return float(int(value)) if len(value) <= 12 else 1e12
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a zone-less one is read as such
        return None
    seconds = when.timestamp() - now
    return max(0.0, seconds) if math.isfinite(seconds) else None


def next_delay(
    base: float,
    jitter: float,
    rand: Callable[[], float],
    status: int | None,
    retry_after: str | None,
    cap: float,
    now: float | None = None,
) -> tuple[float, float | None]:
    """(seconds until the next attempt, the Retry-After honoured or None): our jittered delay, or the
    receiver's Retry-After (429/503 only, at most `cap`) when that is longer."""
    delay = jittered(base, jitter, rand)
    if status not in RETRY_AFTER_STATUSES:
        return delay, None
    asked = retry_after_seconds(retry_after, time.time() if now is None else now)
    if asked is None:
        return delay, None
    asked = min(asked, cap)
    return max(delay, asked), asked
