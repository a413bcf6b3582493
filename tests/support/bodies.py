"""Task bodies as the docs show them: the platform's billing envelope (`billing`, and `usage` once completed,
which its typed SDKs read) set aside, so a test can compare the rest with the documented shape exactly."""

from __future__ import annotations

from typing import Any

ENVELOPE = ("billing", "usage")


def documented(body: dict[str, Any]) -> dict[str, Any]:
    assert "billing" in body, "every task body carries its billing facts"
    return {k: v for k, v in body.items() if k not in ENVELOPE}
