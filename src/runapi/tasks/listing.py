"""Reading an account's tasks as a list: the filters of GET /api/v1/tasks and one page of them, in the cursor
pagination the usage log uses (store/pages.py). Who sees which tasks follows the usage log (billing/usage.py,
UsageScope) for management keys; an API key lists its account's tasks, as the issue asks and as it may GET each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, select

from ..billing.usage import UsageScope
from ..domain.task import UNFINISHED_STATES, Task, TaskState, WireStatus
from ..errors import InvalidInput
from ..store import Database
from ..store.pages import PageRequest, read_page
from ..store.schema import tasks

if TYPE_CHECKING:
    from ..auth.principal import Principal

WIRE_STATUSES: tuple[WireStatus, ...] = ("processing", "completed", "failed")


@dataclass(frozen=True)
class TaskFilter:
    family: str | None = None
    action: str | None = None
    model: str | None = None
    status: str | None = None  # as on the wire: processing (queued or running) | completed | failed
    api_key_id: str | None = None
    created_after: float | None = None  # inclusive, epoch seconds
    created_before: float | None = None  # exclusive

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in WIRE_STATUSES:
            raise InvalidInput(f"Invalid value for status: {self.status!r}. Allowed values: {', '.join(WIRE_STATUSES)}")

    def conditions(self) -> list[ColumnElement[bool]]:
        c = tasks.c
        out: list[ColumnElement[bool]] = []
        for column, value in ((c.family, self.family), (c.action, self.action), (c.model, self.model)):
            if value is not None:
                out.append(column == value)
        if self.api_key_id is not None:
            out.append(c.api_key_id == self.api_key_id)
        if self.status == "processing":
            out.append(c.state.in_(UNFINISHED_STATES))
        elif self.status is not None:
            out.append(c.state == TaskState(self.status))
        if self.created_after is not None:
            out.append(c.created_at >= self.created_after)
        if self.created_before is not None:
            out.append(c.created_at < self.created_before)
        return out


def scope_of(who: Principal) -> UsageScope:
    """The tasks a caller lists: an API key its account's (as it may GET any of them by id; `api_key_id` narrows
    to one key); a management key as the usage log decides (an admin the account's, a member their keys')."""
    return UsageScope(who.account_id) if who.kind == "api" else UsageScope.of(who)


def visible(scope: UsageScope) -> ColumnElement[bool]:
    """The tasks `scope` may see (the usage log's rule, on the tasks table)."""
    return scope.condition(tasks)


@dataclass(frozen=True)
class TaskPage:
    tasks: tuple[Task, ...]
    has_more: bool

    @property
    def first_id(self) -> str | None:
        return self.tasks[0].id if self.tasks else None

    @property
    def last_id(self) -> str | None:
        return self.tasks[-1].id if self.tasks else None


async def list_tasks(db: Database, scope: UsageScope, filters: TaskFilter, page: PageRequest) -> TaskPage:
    """One page of the tasks `scope` sees that match `filters` (ix_tasks_account serves the account's order)."""
    async with db.read() as conn:
        found = await read_page(conn, tasks, visible(scope), filters.conditions(), page)
    return TaskPage(tuple(Task.from_row(row._mapping) for row in found.rows), found.has_more)


async def find_task(db: Database, scope: UsageScope, task_id: str) -> Task | None:
    """One task by id if `scope` may see it; None otherwise (unknown, another account's, another member's key's:
    the caller answers all three alike, so nothing is learnt about tasks it may not see)."""
    async with db.read() as conn:
        row = (await conn.execute(select(tasks).where(visible(scope), tasks.c.id == task_id))).mappings().first()
    return Task.from_row(row) if row else None
