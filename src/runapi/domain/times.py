"""Times on the wire: epoch seconds as ISO 8601 UTC, to the second ("2026-01-07T14:03:00Z")."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
