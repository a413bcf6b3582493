"""Single machine: signals go to listeners in this process only (the default)."""

from __future__ import annotations

from .base import Coordinator


class InProcessCoordinator(Coordinator):
    """Everything runs in one process, so the base class's local fan-out is the whole job."""
