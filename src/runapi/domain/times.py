"""Times on the wire: epoch seconds as ISO 8601 UTC, to the second ("2026-01-07T14:03:00Z")."""

from __future__ import annotations

import math
import time


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    # What datetime.fromtimestamp(ts, UTC).strftime(...) writes, at a fifth of its cost (every status body
    # has one): the second it falls in once rounded to the microsecond, half to even, as datetime rounds.
    frac, whole = math.modf(ts)
    micros = round(frac * 1e6)
    if micros >= 1_000_000:
        whole += 1
    elif micros < 0:
        whole -= 1
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(whole))
