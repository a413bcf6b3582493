"""What a media task is: its states (`TaskState`), a row of the `tasks` table as a frozen `Task`, and what it
takes to create one (`NewTask`). The engine (tasks/engine.py) is the only place that reads and writes the rows;
everything else receives these objects.

    queued --claim--> running --finish--> completed | failed

Both unfinished states show as "processing" on the wire (`TaskState.wire`).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # types only: this module stays a leaf that providers and views can import
    from ..billing.limits import Charged, Limit

WireStatus = Literal["processing", "completed", "failed"]


class TaskState(enum.StrEnum):
    """The `state` column. Members are strings, so they compare and bind in SQL as the stored values."""

    QUEUED = "queued"  # created, never claimed
    RUNNING = "running"  # claimed at least once: being stepped, or waiting for its next poll
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        """Finished for good: settled or refunded, its final callback queued; no worker touches it again."""
        return self in (TaskState.COMPLETED, TaskState.FAILED)

    @property
    def wire(self) -> WireStatus:
        """The status a client sees (the status body, callbacks): the two unfinished states are one."""
        if self is TaskState.COMPLETED:
            return "completed"
        if self is TaskState.FAILED:
            return "failed"
        return "processing"


TERMINAL_STATES = tuple(s for s in TaskState if s.terminal)
UNFINISHED_STATES = tuple(s for s in TaskState if not s.terminal)


@dataclass(frozen=True, slots=True)
class Task:
    """One row of the `tasks` table (store/schema.py), as read: a snapshot, never written back field by field
    (changes go through the engine; `dataclasses.replace` makes the copies a status body shows)."""

    id: str
    account_id: int
    family: str
    action: str
    params: dict[str, Any]
    state: TaskState
    price_cents: int
    provider: str
    next_run_at: float
    created_at: float
    updated_at: float
    api_key_id: str | None = None
    model: str | None = None
    result: dict[str, Any] | None = None  # {"files": {kind: [item, ...]}, "extra": {...}} once completed
    error: str | None = None
    provider_job: dict[str, Any] | None = None  # the provider's handle on the work, persisted between steps
    stage: str | None = None  # the last progress stage reported (catalog `stages`)
    polls: int = 0
    failures: int = 0  # consecutive failed steps, reset on progress
    lease_owner: str | None = None
    lease_until: float | None = None
    callback_url: str | None = None
    public_base_url: str | None = None  # the address the task was created at (links in its answers)
    idempotency_key: str | None = None
    request_hash: str | None = None  # engine.request_fingerprint; None on rows older than the column
    client_request_id: str | None = None
    spend_counters: Charged | None = None  # the limit counters its reservation charged (billing/limits.py)
    completed_at: float | None = None
    output_files: int | None = None  # how many files it stored and their bytes (None: not recorded)
    output_bytes: int | None = None
    outputs_expired_at: float | None = None  # its generated files were deleted (retention): no links to them

    @property
    def kind(self) -> str:
        """The endpoint that made it, as catalog task_ref lists name it: "family/action"."""
        return f"{self.family}/{self.action}"

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> Task:
        """A task from a `tasks` row (every column present, by name; other keys are ignored). Any keys: a
        SQLAlchemy RowMapping is also indexed by column objects."""
        values = {name: row[name] for name in _COLUMNS}
        values["state"] = TaskState(values["state"])
        return cls(**values)

    def to_row(self) -> dict[str, Any]:
        """The row this task was read from (the state as its stored string)."""
        row = {name: getattr(self, name) for name in _COLUMNS}
        row["state"] = self.state.value
        return row


_COLUMNS = tuple(f.name for f in fields(Task))


@dataclass(frozen=True, slots=True)
class NewTask:
    """What engine.create_task needs to commit a task and its reservation."""

    account_id: int
    api_key_id: str | None
    family: str
    action: str
    model: str | None
    params: dict[str, Any]  # validated, defaults applied
    price_cents: int
    provider: str
    public_base_url: str
    idempotency_key: str | None = None
    guardrail_id: str | None = None  # the guardrail in force (recorded on the reservation)
    member_guardrail_id: str | None = None
    provider_job: dict[str, Any] | None = None  # a job handle to start from (the registry's initial job)
    client_request_id: str | None = None
    limits: tuple[Limit, ...] = ()  # checked and charged with the reservation, in one step
    # the params as the client sent them, when `params` differ (file ids resolved to links): what an
    # Idempotency-Key replay is compared by
    request_params: dict[str, Any] | None = None
