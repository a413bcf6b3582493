"""The usage log: one row per billed request, an LLM call or a task, written in the transaction of the ledger
move that makes its cost final, so the log and the balance can never disagree.

- A task's row is written when it finishes (tasks/engine.finish): completed, charged its price; or failed,
  refunded, cost 0. Its `units` are what the price counted (seconds, images; 1 request for a flat price).
- An LLM call's row rides on its settle or refund move in the LedgerBatcher's group commit (billing/batcher.py):
  one executemany per batch, no transaction of its own. A call refunded after it was admitted (the upstream
  failed, nothing was produced) is logged `failed` with cost 0: the attempt, its model and latency are worth
  seeing, and it costs the hot path nothing in the common case. Reservations refunded without a call behind
  them (the client left while it was being made, the janitor's refunds after a crash) have no usage and are not
  logged; their ledger rows show them.

Costs are kept in the ledger's exact unit, millionths of a cent (`cost_micro_cents`: an LLM call's token cost
before the whole-cent rounding with carry, a task's price × 10⁶), next to `charged_cents`, the whole cents the
balance actually lost for the request (for an LLM call: its cost plus the account's carried sub-cent rest,
rounded down; less on a shortfall). Sums of `charged_cents` equal the balance's moves exactly; sums of
`cost_micro_cents` equal them up to the carry still held.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    Table,
    case,
    cast,
    delete,
    func,
    insert,
    literal_column,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from ..catalog import get_catalog
from ..errors import InvalidInput
from ..store import Database
from ..store.db import plain_sqlite
from ..store.pages import PageRequest, read_page
from ..store.schema import api_keys, usage_events

if TYPE_CHECKING:  # the caller's identity is only read (kind, role, ids): billing does not import auth
    from ..auth.principal import Principal

KINDS = ("llm", "task")
GROUPINGS = ("day", "model", "api_key")  # UTC days
COMPLETED, FAILED = "completed", "failed"
MICRO = 1_000_000  # micro-cents per cent
DAY_SECONDS = 86_400

# A row is a tuple in the table's column order: the SQLite fast path hands the tuples to the driver as they are.
COLUMNS = (
    "id",
    "account_id",
    "api_key_id",
    "kind",
    "ref",
    "request_id",
    "model",
    "family",
    "action",
    "provider",
    "status",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "unit",
    "units",
    "cost_micro_cents",
    "charged_cents",
    "latency_ms",
    "created_at",
)
if COLUMNS != tuple(c.name for c in usage_events.c):  # the schema changed and this module did not
    raise RuntimeError("billing/usage.py: COLUMNS is out of step with the usage_events table")
Row = tuple[Any, ...]
_RECORD = insert(usage_events)  # built once: every batch reuses the compiled statement
_SQLITE_RECORD = f"INSERT INTO usage_events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"


def new_id() -> str:
    """usage_ + the time in nanoseconds + 48 random bits: ids grow with time, so each insert lands at the end of
    the primary-key index (no page splits all over a large table), and cheaper to make than a uuid4."""
    return f"usage_{time.time_ns():016x}{os.urandom(6).hex()}"


# ------------------------------------------------------------------------------------------------- writing


@dataclass(frozen=True, slots=True)
class LlmUsage:
    """What an LLM call was and used, carried by its settle or refund move so its row is written with it."""

    model: str
    action: str  # chat | embedding
    provider: str | None  # the deployment that answered, "sandbox", or None when none did
    request_id: str | None  # X-Request-Id
    latency_ms: int  # from the request's start to its settle or refund
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0


def llm_row(
    account_id: int,
    api_key_id: str | None,
    ref: str,
    usage: LlmUsage,
    *,
    completed: bool,
    cost_micro_cents: int,
    charged_cents: int,
    at: float,
) -> Row:
    """An LLM call's row (the batcher inserts a batch's rows together with `record_rows`)."""
    return (
        new_id(),
        account_id,
        api_key_id,
        "llm",
        ref,
        _clip(usage.request_id, 128),
        _clip(usage.model, 100),
        None,
        usage.action,
        _clip(usage.provider, 60),
        COMPLETED if completed else FAILED,
        usage.input_tokens,
        usage.output_tokens,
        usage.cached_tokens,
        usage.cache_write_tokens,
        usage.reasoning_tokens,
        None,
        None,
        cost_micro_cents,
        charged_cents,
        usage.latency_ms,
        at,
    )


def _clip(text: str | None, length: int) -> str | None:
    """Within its column (PostgreSQL enforces the length): a long deployment name must not fail the money move
    the row rides on."""
    return text[:length] if text is not None and len(text) > length else text


def record_rows(conn: Connection, rows: list[Row]) -> None:
    """Insert rows in one statement. On SQLite, the driver's executemany of one prepared statement: this runs in
    every LLM settle batch, on the hot path, and SQLAlchemy's per-row parameter handling was a third of its
    cost (bench/llm_gateway.py)."""
    if not rows:
        return
    raw = plain_sqlite(conn)
    if raw is not None:  # the writer thread's own sqlite3 connection: no execution context at all
        raw.executemany(_SQLITE_RECORD, rows)
    elif conn.dialect.name == "sqlite":
        conn.exec_driver_sql(_SQLITE_RECORD, rows)
    else:
        conn.execute(_RECORD, [dict(zip(COLUMNS, row)) for row in rows])


def record_task(
    conn: Connection,
    *,
    account_id: int,
    api_key_id: str | None,
    task_id: str,
    family: str,
    action: str,
    model: str | None,
    provider: str | None,
    params: dict[str, Any],
    price_cents: int,
    completed: bool,
    created_at: float,
    at: float,
) -> None:
    """A finishing task's row, in its settle (completed: charged its price) or refund (failed: cost 0)
    transaction."""
    unit, units = task_units(family, action, model, params)
    charged = price_cents if completed else 0
    record_rows(
        conn,
        [
            (
                new_id(),
                account_id,
                api_key_id,
                "task",
                task_id,
                None,
                model,
                family,
                action,
                _clip(provider, 60),
                COMPLETED if completed else FAILED,
                0,
                0,
                0,
                0,
                0,
                _clip(unit, 60),
                units,
                charged * MICRO,
                charged,
                max(round((at - created_at) * 1000), 0),
                at,
            )
        ],
    )


def task_units(family: str, action: str, model: str | None, params: dict[str, Any]) -> tuple[str | None, float | None]:
    """What the task's price counted and how many (None when the catalog no longer knows its model)."""
    spec = get_catalog().action(family, action)
    model_spec = spec.models.get(model) if spec is not None and model is not None else None
    if model_spec is None:
        return None, None
    unit, units = model_spec.units(params)
    return unit, units if math.isfinite(units) else None


# ------------------------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class UsageScope:
    """The rows a caller may see: an account's, narrowed to one key or to one member's keys."""

    account_id: int
    api_key_id: str | None = None
    membership_id: str | None = None

    @classmethod
    def of(cls, who: Principal) -> UsageScope:
        """As the keys API authorises: an API key sees its own requests; a management key sees the account's
        if its member is an admin, else those of the member's own keys (the keys GET /api/v1/keys lists)."""
        if who.kind == "api":
            return cls(who.account_id, api_key_id=who.key_id)
        if who.role == "admin":
            return cls(who.account_id)
        return cls(who.account_id, membership_id=who.membership_id)

    def condition(self, table: Table = usage_events) -> ColumnElement[bool]:
        """The rows of `table` (one with account_id and api_key_id columns: usage_events, tasks) this scope sees."""
        cond = table.c.account_id == self.account_id
        if self.api_key_id is not None:
            cond = cond & (table.c.api_key_id == self.api_key_id)
        if self.membership_id is not None:
            own_keys = select(api_keys.c.id).where(
                api_keys.c.account_id == self.account_id, api_keys.c.membership_id == self.membership_id
            )
            cond = cond & table.c.api_key_id.in_(own_keys)
        return cond


@dataclass(frozen=True)
class UsageFilter:
    api_key_id: str | None = None
    model: str | None = None
    kind: str | None = None  # llm | task
    created_after: float | None = None  # inclusive, epoch seconds
    created_before: float | None = None  # exclusive

    def __post_init__(self) -> None:
        if self.kind is not None and self.kind not in KINDS:
            raise InvalidInput(f"Invalid value for kind: {self.kind!r}. Allowed values: {', '.join(KINDS)}")

    def conditions(self) -> list[ColumnElement[bool]]:
        c = usage_events.c
        out: list[ColumnElement[bool]] = []
        if self.api_key_id is not None:
            out.append(c.api_key_id == self.api_key_id)
        if self.model is not None:
            out.append(c.model == self.model)
        if self.kind is not None:
            out.append(c.kind == self.kind)
        if self.created_after is not None:
            out.append(c.created_at >= self.created_after)
        if self.created_before is not None:
            out.append(c.created_at < self.created_before)
        return out


@dataclass(frozen=True)
class UsageEvent:
    id: str
    created_at: float
    account_id: int
    api_key_id: str | None
    kind: str
    ref: str  # the task's id, or the LLM call's reservation id
    request_id: str | None
    model: str | None
    family: str | None
    action: str | None
    provider: str | None
    status: str
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    unit: str | None
    units: float | None
    cost_micro_cents: int
    charged_cents: int
    latency_ms: int

    @classmethod
    def from_row(cls, row: Any) -> UsageEvent:
        m = row._mapping
        return cls(**{name: m[name] for name in _EVENT_FIELDS})

    @property
    def cost_cents(self) -> float:
        return self.cost_micro_cents / MICRO


_EVENT_FIELDS = tuple(UsageEvent.__dataclass_fields__)


@dataclass(frozen=True)
class UsagePage:
    events: tuple[UsageEvent, ...]
    has_more: bool


@dataclass(frozen=True)
class UsageGroup:
    key: str | None  # the day (YYYY-MM-DD, UTC), the model or the API key id
    requests: int
    failed: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    cost_micro_cents: int
    charged_cents: int

    @property
    def cost_cents(self) -> float:
        return self.cost_micro_cents / MICRO


async def list_usage(db: Database, scope: UsageScope, filters: UsageFilter, page: PageRequest) -> UsagePage:
    async with db.read() as conn:
        found = await read_page(conn, usage_events, scope.condition(), filters.conditions(), page)
    return UsagePage(tuple(UsageEvent.from_row(r) for r in found.rows), found.has_more)


_SUMMED = (
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost_micro_cents",
    "charged_cents",
)


async def summarize_usage(db: Database, scope: UsageScope, filters: UsageFilter, group_by: str) -> list[UsageGroup]:
    """Totals per UTC day (oldest first), per model or per API key (most costly first)."""
    if group_by not in GROUPINGS:
        raise InvalidInput(f"Invalid value for group_by: {group_by!r}. Allowed values: {', '.join(GROUPINGS)}")
    c = usage_events.c
    async with db.read() as conn:
        key = _day(conn, c.created_at) if group_by == "day" else c.model if group_by == "model" else c.api_key_id
        sums = [func.coalesce(func.sum(c[name]), 0).label(name) for name in _SUMMED]
        query = (
            select(
                key.label("grp"),
                func.count().label("requests"),
                func.coalesce(func.sum(case((c.status == FAILED, 1), else_=0)), 0).label("failed"),
                *sums,
            )
            .where(scope.condition(), *filters.conditions())
            .group_by(key)
        )
        query = query.order_by(key) if group_by == "day" else query.order_by(func.sum(c.cost_micro_cents).desc(), key)
        rows = (await conn.execute(query)).all()
    return [_group(r, group_by) for r in rows]


def _day(conn: AsyncConnection, at: Any) -> ColumnElement[Any]:
    """The UTC day number of an epoch time (days since 1970-01-01). SQLite's CAST truncates (times are
    positive); PostgreSQL's rounds, so it floors. The divisor is inline, not a bound parameter: PostgreSQL
    matches the selected expression to the GROUP BY one by its text."""
    days = at / literal_column(str(DAY_SECONDS))
    return cast(days if conn.dialect.name == "sqlite" else func.floor(days), Integer)


def _group(row: Any, group_by: str) -> UsageGroup:
    m = row._mapping
    key = m["grp"]
    if group_by == "day" and key is not None:
        key = datetime.fromtimestamp(int(key) * DAY_SECONDS, tz=UTC).strftime("%Y-%m-%d")
    return UsageGroup(
        key=key, requests=int(m["requests"]), failed=int(m["failed"]), **{name: int(m[name]) for name in _SUMMED}
    )


def ids(events: Sequence[UsageEvent]) -> tuple[str | None, str | None]:
    """The first and last ids of a page (None when it is empty)."""
    return (events[0].id, events[-1].id) if events else (None, None)


async def expire(db: Database, written_before: float, limit: int) -> int:
    """Delete at most `limit` usage rows written before the cutoff, oldest first (the retention job; SKIP LOCKED
    on PostgreSQL, so processes running it at once take different rows). Returns how many went."""
    oldest = (
        select(usage_events.c.id)
        .where(usage_events.c.created_at < written_before)
        .order_by(usage_events.c.created_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    stmt = delete(usage_events).where(usage_events.c.id.in_(oldest))
    gone: int = await db.write_sync(lambda conn: conn.execute(stmt).rowcount)
    return gone
