"""Kept for compatibility only: the composition root is `runapi.services` (new code imports it from there)."""

from __future__ import annotations

from ..services import Services as Runtime

__all__ = ["Runtime"]
