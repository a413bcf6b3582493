"""How the Tasks pages show a task: its status, how long it took, what it costs and what that amount means, its
parameters as readable JSON, and the list's date filters read as UTC days. Pure: no request, no database."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ..domain.task import Task, TaskState
from ..errors import InvalidInput
from ..tasks.views import cost_cents

_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
STATUS_CLASSES = {"completed": "status-ok", "failed": "status-off", "processing": "status-busy"}


def duration_text(seconds: float | None) -> str:
    """A duration a person reads: "0.4 s", "12.3 s", "2 min 05 s", "1 h 02 min"; "—" when there is none."""
    if seconds is None:
        return "—"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def cost_note(task: Task) -> str:
    """What the amount of `cost_cents(task)` is: the price held while processing, the price paid once completed,
    nothing once failed (the reservation went back to the balance)."""
    if task.state is TaskState.FAILED:
        return "refunded"
    if task.state is TaskState.COMPLETED:
        return "charged"
    return "reserved"


def pretty_json(value: Any) -> str:
    """Parameters as a person reads them: indented, non-ASCII kept as is. Plain text: the template escapes it."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


@dataclass(frozen=True)
class TaskFacts:
    """What the list's rows and the detail page show of a task besides its status body."""

    id: str
    kind: str  # family/action
    model: str | None
    status: str  # as on the wire: processing | completed | failed
    created_at: float
    completed_at: float | None
    seconds: float | None  # how long it took once finished; how long it has run so far while processing
    cost_cents: int
    cost_note: str  # reserved | charged | refunded
    api_key_id: str | None
    callback_url: str | None
    error: str | None

    @property
    def finished(self) -> bool:
        return self.status != "processing"

    @property
    def status_class(self) -> str:
        return STATUS_CLASSES[self.status]

    @property
    def duration(self) -> str:
        return duration_text(self.seconds)

    @classmethod
    def of(cls, task: Task, now: float | None = None) -> TaskFacts:
        end = task.completed_at if task.state.terminal else (time.time() if now is None else now)
        return cls(
            id=task.id,
            kind=task.kind,
            model=task.model,
            status=task.state.wire,
            created_at=task.created_at,
            completed_at=task.completed_at,
            seconds=None if end is None else end - task.created_at,
            cost_cents=cost_cents(task),
            cost_note=cost_note(task),
            api_key_id=task.api_key_id,
            callback_url=task.callback_url,
            error=task.error if task.state is TaskState.FAILED else None,
        )


def _day(raw: str, name: str) -> date:
    try:
        if not _DAY.fullmatch(raw):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a date, YYYY-MM-DD") from None


def _epoch(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def day_start(raw: str | None, name: str) -> float | None:
    """A date input's value (YYYY-MM-DD, a UTC day) as the epoch second it starts at; None when left empty."""
    return _epoch(_day(raw, name)) if raw else None


def day_end(raw: str | None, name: str) -> float | None:
    """The epoch second the day after `raw` starts at: "created until a day, that day included" is "created before
    the next one starts"; None when left empty."""
    if not raw:
        return None
    day = _day(raw, name)
    return _epoch(day + timedelta(days=1)) if day < date.max else None
