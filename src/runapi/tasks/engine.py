"""The durable task state machine. Every transition is one transaction that also moves the money for it.

queued --claim--> running (leased) --step--> running (lease released, next_run_at set) ... --> completed | failed
A worker that dies mid-step leaves an expired lease; any worker then claims the task again. Completion and
failure only apply to a non-terminal task whose lease the caller still holds, so a task settles exactly once.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sqlite3
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Literal

import orjson
from sqlalchemy import (
    ColumnElement,
    Connection,
    Dialect,
    RowMapping,
    Select,
    Update,
    and_,
    bindparam,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from ..billing import ledger as billing
from ..billing import limits as spend_limits
from ..billing import usage
from ..callbacks import listen
from ..catalog import Action, get_catalog
from ..domain.task import TERMINAL_STATES, UNFINISHED_STATES, NewTask, Task, TaskState
from ..errors import (
    RECORDS_BEING_GENERATED,
    Conflict,
    RecordNotFound,
    invalid,
    task_not_found,
)
from ..observability import tracing
from ..observability.metrics import record_task_created, record_task_finished
from ..storage import UrlSigner
from ..store import Database
from ..store.db import CompiledWrite, plain_sqlite
from ..store.schema import callback_deliveries, tasks
from .finisher import finisher
from .views import status_body

# What make_due found: a worker should be woken / a worker holds the lease now (try again) / finished or unknown
Poke = Literal["due", "held", "gone"]


async def create_task(db: Database, new: NewTask) -> tuple[Task, bool]:
    """Commit the task and its reservation, checked against `new.limits` in the same step (403 once one is
    reached, 402 if the balance cannot cover it). Returns (task, created); an Idempotency-Key replay returns
    the original task with created=False and charges nothing; the key used for another request is a 409."""
    request_hash = request_fingerprint(new.family, new.action, new.model, new.request_params or new.params)
    if new.idempotency_key:
        existing = await find_replay(db, new.account_id, new.idempotency_key, new.family, new.action, request_hash)
        if existing:
            return existing, False
    now = time.time()
    task = Task(
        id=str(uuid.uuid4()),
        account_id=new.account_id,
        api_key_id=new.api_key_id,
        family=new.family,
        action=new.action,
        model=new.model,
        params=new.params,
        state=TaskState.QUEUED,
        price_cents=new.price_cents,
        provider=new.provider,
        provider_job=new.provider_job,
        polls=0,
        failures=0,
        next_run_at=now,
        callback_url=new.params.get("callback_url"),
        public_base_url=new.public_base_url,
        idempotency_key=new.idempotency_key,
        request_hash=request_hash,
        client_request_id=new.client_request_id,
        created_at=now,
        updated_at=now,
    )

    row = _insert_values(task, None)  # (built here: the writer thread's time is the one every create waits on)

    def insert_and_reserve(conn: Connection) -> spend_limits.Charged | None:
        at = time.time()
        counters = spend_limits.charge(conn, new.account_id, new.limits, new.price_cents, at)
        billing.reserve(
            conn,
            new.account_id,
            new.api_key_id,
            task.id,
            new.price_cents,
            model=new.model,
            guardrail_id=new.guardrail_id,
            member_guardrail_id=new.member_guardrail_id,
            at=at,
        )
        values = row if counters is None else {**row, "spend_counters": counters}
        raw = plain_sqlite(conn)
        if raw is not None:  # a SQLite file: plain sqlite3, compiled once (the create hot path)
            _plain_insert(conn.dialect).run(raw, values)
        else:
            conn.execute(insert(tasks), values)  # parameters apart: one cached statement
        return counters

    try:
        counters = await db.write_sync(insert_and_reserve)
    except (IntegrityError, sqlite3.IntegrityError):  # (the second: raised by the plain sqlite3 statements)
        if new.idempotency_key:  # a concurrent request with this key won the unique index: answer with its task
            existing = await find_replay(db, new.account_id, new.idempotency_key, new.family, new.action, request_hash)
            if existing:
                return existing, False
        raise
    record_task_created(new.family)
    return (task if counters is None else replace(task, spend_counters=counters)), True


# The columns a new task is inserted with; the others (result, error, stage, lease, completed_at) are left unset,
# so they hold SQL NULL rather than a JSON null.
_INSERTED = (
    "id",
    "account_id",
    "api_key_id",
    "family",
    "action",
    "model",
    "params",
    "state",
    "price_cents",
    "provider",
    "provider_job",
    "polls",
    "failures",
    "next_run_at",
    "callback_url",
    "public_base_url",
    "idempotency_key",
    "request_hash",
    "client_request_id",
    "created_at",
    "updated_at",
)


_PLAIN_INSERT: CompiledWrite | None = None


def _plain_insert(dialect: Dialect) -> CompiledWrite:
    """The insert of a new task (the columns `_insert_values` names) compiled once for SQLite."""
    global _PLAIN_INSERT
    if _PLAIN_INSERT is None:
        _PLAIN_INSERT = CompiledWrite.of(insert(tasks), dialect, (*_INSERTED, "spend_counters"))
    return _PLAIN_INSERT


def _insert_values(task: Task, counters: spend_limits.Charged | None) -> dict[str, Any]:
    row = task.to_row()
    return {**{name: row[name] for name in _INSERTED}, "spend_counters": counters}


def request_fingerprint(family: str, action: str, model: str | None, params: dict[str, Any]) -> str:
    """The endpoint and the validated request (defaults applied) as canonical JSON, hashed: two requests an
    Idempotency-Key may stand for are the same exactly when their fingerprints are."""
    # stdlib json, not orjson: a validated integer may exceed 64 bits (an integral float such as 1e30)
    canonical = json.dumps(
        {"endpoint": f"{family}/{action}", "model": model, "params": params},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


async def find_replay(
    db: Database, account_id: int, key: str, family: str, action: str, request_hash: str
) -> Task | None:
    """The task this account created with this Idempotency-Key, if the request is the same one; 409 if the key
    was used for anything else (another endpoint or other parameters)."""
    existing = await find_by_idempotency_key(db, account_id, key)
    if existing is None:
        return None
    if (existing.family, existing.action) != (family, action):
        raise Conflict(
            f"Idempotency-Key {key!r} was already used on another endpoint "
            f"({existing.kind}); use a new key for a new request"
        )
    # rows from before request hashes were stored match on the endpoint alone
    if existing.request_hash not in (None, request_hash):
        raise Conflict(
            f"Idempotency-Key {key!r} was already used with different request parameters; "
            "use a new key for a new request"
        )
    return existing


def _first(conn: Connection, stmt: Select[Any]) -> RowMapping | None:
    return conn.execute(stmt).mappings().first()


async def find_by_idempotency_key(db: Database, account_id: int, key: str) -> Task | None:
    row = await db.read_sync(
        _first, select(tasks).where(tasks.c.account_id == account_id, tasks.c.idempotency_key == key)
    )
    return Task.from_row(row) if row else None


# The task `task_id` if it is this account's: what a status poll reads (compiled once: the poll hot path).
TASK_QUERY = select(tasks).where(tasks.c.id == bindparam("task_id"), tasks.c.account_id == bindparam("account_id"))


async def get_task(db: Database, task_id: str, account_id: int) -> Task | None:
    rows = await db.read_rows(TASK_QUERY, task_id=task_id, account_id=account_id)
    return Task.from_row(rows[0]) if rows else None


async def is_terminal(db: Database, task_id: str) -> bool:
    state = await db.read_sync(lambda conn: conn.execute(select(tasks.c.state).where(tasks.c.id == task_id)).scalar())
    return state in TERMINAL_STATES


async def resolve_refs(
    db: Database, account_id: int, action: Action, params: dict[str, Any], strict: bool = True
) -> dict[str, Task]:
    """Load the tasks that task_ref params name. With strict (at create): 404 unless the task exists in this
    account; 422 naming the kinds allowed if it is of another kind; 422 with the docs' "Records are being
    generated" while it is still processing, and 422 if it failed."""
    refs: dict[str, Task] = {}
    for p in action.params.values():
        if p.record_ref and params.get(p.name) is not None:
            record = await find_record(db, account_id, p.record_ref, str(params[p.name]))
            if record is None and strict:
                raise RecordNotFound(
                    f"Record does not exist: {p.name} {params[p.name]!r} was not created by this "
                    f"account ({_one_of(tuple(p.record_ref))})"
                )
            if record is not None:
                refs[p.name] = record
            continue
        if not p.task_ref or params.get(p.name) is None:
            continue
        ref = await get_task(db, str(params[p.name]), account_id)
        if ref is None:
            if strict:
                raise task_not_found()
            continue
        if ref.kind not in p.task_ref:
            if strict:  # it exists, so "not found" would mislead: say which kinds this parameter takes
                raise invalid(f"{p.name} must name a {_one_of(p.task_ref)} task (task {ref.id} is a {ref.kind} task)")
            continue
        if strict and ref.state is not TaskState.COMPLETED:
            if not ref.state.terminal:
                raise invalid(RECORDS_BEING_GENERATED)
            raise invalid(f"{p.name} must name a completed task (task {ref.id} is {ref.state.wire})")
        refs[p.name] = ref
    return refs


async def find_record(db: Database, account_id: int, kinds: dict[str, str], value: str) -> Task | None:
    """The completed task of this account whose result holds `value` at the path its kind declares (a persona
    id, a custom voice id); records of other accounts do not exist for this one."""
    for kind, path in kinds.items():
        family, action = kind.split("/")
        field = tasks.c.result["extra"]
        for part in path.split("."):
            field = field[part]
        async with db.read() as conn:
            row = (
                (
                    await conn.execute(
                        select(tasks)
                        .where(
                            tasks.c.account_id == account_id,
                            tasks.c.family == family,
                            tasks.c.action == action,
                            tasks.c.state == TaskState.COMPLETED,
                            field.as_string() == value,
                        )
                        .limit(1)
                    )
                )
                .mappings()
                .first()
            )
        if row:
            return Task.from_row(row)
    return None


def _one_of(kinds: tuple[str, ...]) -> str:
    return kinds[0] if len(kinds) == 1 else ", ".join(kinds[:-1]) + " or " + kinds[-1]


async def claim_due(
    db: Database,
    owner: str,
    limit: int,
    lease_seconds: float,
    *,
    held: Mapping[int, int] | None = None,
    share: int | None = None,
    ceiling: int | None = None,
) -> list[Task]:
    """Lease up to `limit` runnable tasks, oldest due first, fairly across accounts. SKIP LOCKED on
    PostgreSQL; SQLite serialises writers anyway.

    Fairness (without `share`: none). `held` is what the claiming worker already runs per account. While
    other accounts have due tasks, an account gets at most `share` of the worker's slots in all; slots that
    nobody else wants right now may go to it up to `ceiling` (the worker keeps one slot back, so an account
    whose tasks become due later starts at once; an over-share account then gets no new slot while others
    wait, and converges back to its share as its steps end). Claimed in rounds so that one account's flood of
    due tasks cannot hide the others' behind the LIMIT: each round reads the oldest due tasks of the accounts
    still under the cap (accounts at it are left out of the query); a round that reaches an account's cap
    leaves it out of the next one, so every round either claims something or ends the phase (at most
    `limit` rounds). Phase one uses `share`, phase two (only if slots are left and some account is capped)
    `ceiling`. Rows read but not taken are only locked until this transaction ends."""
    now = time.time()
    caps = [limit] if share is None else [share] + ([ceiling] if ceiling is not None and ceiling > share else [])
    due = (
        tasks.c.state.in_(UNFINISHED_STATES),
        tasks.c.next_run_at <= now,
        or_(tasks.c.lease_until.is_(None), tasks.c.lease_until < now),
    )

    def pick(conn: Connection) -> list[str]:
        counts: Counter[int] = Counter(held or {})
        picked: list[str] = []
        for cap in caps:
            full = {acct for acct, n in counts.items() if n >= cap}
            while len(picked) < limit:
                query = (
                    select(tasks.c.id, tasks.c.account_id)
                    .where(*due, tasks.c.account_id.notin_(full), tasks.c.id.notin_(picked))
                    .order_by(tasks.c.next_run_at)
                    .limit(limit - len(picked))
                    .with_for_update(skip_locked=True)
                )
                capped_now = False
                for task_id, acct in conn.execute(query).all():
                    if counts[acct] >= cap:
                        capped_now = True
                        continue
                    picked.append(task_id)
                    counts[acct] += 1
                    if counts[acct] >= cap:
                        full.add(acct)
                if not capped_now:
                    break  # every row read was taken: the slots are full or no more tasks are due
            if not full:
                break  # nobody was capped: this phase saw every due task
        return picked

    def claim(conn: Connection) -> list[Task]:
        ids = pick(conn)
        if not ids:
            return []
        rows = (
            conn.execute(
                update(tasks)
                .where(tasks.c.id.in_(ids))
                .values(state=TaskState.RUNNING, lease_owner=owner, lease_until=now + lease_seconds, updated_at=now)
                .returning(*tasks.c)
            )
            .mappings()
            .all()
        )
        return [Task.from_row(r) for r in rows]

    return await db.write_sync(claim)


def _rowcount(conn: Connection, stmt: Update) -> int:
    return int(conn.execute(stmt).rowcount)


# A task we hold the lease on, and an unfinished one (whoever holds it): constant conditions whose values are
# bound per call (`w_id`, `w_owner`), so the statements built on them are built once and their compiled form
# is cached; building the expression per call was a fifth of a worker step's event-loop CPU.
_LEASED = and_(
    tasks.c.id == bindparam("w_id"),
    tasks.c.lease_owner == bindparam("w_owner"),
    tasks.c.state.notin_(TERMINAL_STATES),
)
_UNFINISHED = and_(tasks.c.id == bindparam("w_id"), tasks.c.state.in_(UNFINISHED_STATES))
# The SET columns come from each execution's parameters (those that are not w_*).
_UPDATE_LEASED = update(tasks).where(_LEASED)


def _leased(task_id: str, owner: str) -> dict[str, Any]:
    return {"w_id": task_id, "w_owner": owner}


def _update_leased(conn: Connection, task_id: str, owner: str, values: dict[str, Any]) -> int:
    return int(conn.execute(_UPDATE_LEASED, {**values, **_leased(task_id, owner)}).rowcount)


async def renew_leases(db: Database, owner: str, task_ids: list[str], lease_seconds: float) -> int:
    """Extend the leases we still hold on these tasks (the worker's heartbeat). Returns how many we hold."""
    stmt = (
        update(tasks)
        .where(
            tasks.c.id.in_(task_ids),
            tasks.c.lease_owner == owner,
            tasks.c.state.notin_(TERMINAL_STATES),
        )
        .values(lease_until=time.time() + lease_seconds)
    )
    return await db.write_sync(_rowcount, stmt)


async def update_leased(db: Database, task_id: str, owner: str, **values: Any) -> bool:
    """Persist progress of a task we hold the lease on; False if the lease was lost."""
    return await db.write_sync(_update_leased, task_id, owner, {"updated_at": time.time(), **values}) == 1


async def release(db: Database, task_id: str, owner: str, next_run_at: float, **values: Any) -> bool:
    """End a step: persist progress and give the task back to the queue for its next poll."""
    return await update_leased(
        db, task_id, owner, lease_owner=None, lease_until=None, next_run_at=next_run_at, **values
    )


async def provider_of(db: Database, task_id: str) -> str | None:
    """The provider a task runs on (what an upstream webhook about it is handed to); None if there is no such task."""
    async with db.read() as conn:
        name = (await conn.execute(select(tasks.c.provider).where(tasks.c.id == task_id))).scalar()
    return None if name is None else str(name)


async def make_due(db: Database, task_id: str) -> Poke:
    """Make an unleased, unfinished task due now (an upstream webhook says its job ended). Returns "due" (a
    worker should be woken), "held" (a worker holds its lease now: try again) or "gone" (finished or unknown)."""
    now = time.time()
    stmt = (
        update(tasks)
        .where(
            tasks.c.id == task_id,
            tasks.c.state.in_(UNFINISHED_STATES),
            or_(tasks.c.lease_until.is_(None), tasks.c.lease_until < now),
        )
        .values(next_run_at=now)
    )
    if await db.write_sync(_rowcount, stmt):
        return "due"
    async with db.read() as conn:
        state = (await conn.execute(select(tasks.c.state).where(tasks.c.id == task_id))).scalar()
    return "held" if state in UNFINISHED_STATES else "gone"


async def report_stage(
    db: Database,
    task: Task,
    owner: str,
    stage: str,
    next_run_at: float,
    *,
    callback_body: dict[str, Any] | None,
    **values: Any,
) -> bool:
    """End a step that reached a progress stage: the task shows it, and its callback is queued in the same
    commit (durable and retried like the final one, sent before it). False if the lease was lost."""
    now = time.time()
    seq = _stage_seq(task, stage)

    def advance(conn: Connection) -> bool:
        values_ = {
            "stage": stage,
            "updated_at": now,
            "lease_owner": None,
            "lease_until": None,
            "next_run_at": next_run_at,
            **values,
        }
        if _update_leased(conn, task.id, owner, values_) != 1:
            return False
        if task.callback_url and callback_body is not None:
            _queue_callback(conn, task, seq, callback_body, now)
        return True

    return await db.write_sync(advance)


def _stage_seq(task: Task, stage: str | None) -> int:
    """A callback's place among the task's callbacks: its stage's index, the final one after all stages."""
    action = get_catalog().action(task.family, task.action)
    stages = action.stages if action else ()
    return stages.index(stage) if stage in stages else len(stages)


def final_callback_seq(task: Task) -> int:
    """The seq of a task's final callback (after its stages' ones)."""
    return _stage_seq(task, None)


def _queue_callback(conn: Connection, task: Task, seq: int, body: dict[str, Any], now: float) -> None:
    conn.execute(
        insert(callback_deliveries).values(
            id=str(uuid.uuid4()),
            task_id=task.id,
            seq=seq,
            account_id=task.account_id,
            url=task.callback_url,
            body=orjson.dumps(body).decode(),
            state="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )


def stage_bodies(
    task: Task, signer: UrlSigner, url_ttl: int, result: dict[str, Any] | None, error: str | None, now: float
) -> list[tuple[int, dict[str, Any]]]:
    """The callbacks a finishing task still owes: a completed task calls back the stages its provider skipped
    (an instant sandbox task, an upstream that jumped ahead) before the final one, so a receiver always sees
    every stage in order; a failed task only owes its final callback. A task without a callback_url owes only
    its final body (kept for the account's `runapi listen` listeners, if any)."""
    base = task.public_base_url or ""
    final = replace(
        task,
        state=TaskState.FAILED if error is not None else TaskState.COMPLETED,
        result=result,
        error=error,
        completed_at=now,
    )
    bodies = []
    action = get_catalog().action(task.family, task.action)
    if task.callback_url and action and action.stages and error is None:
        reached = action.stages.index(task.stage) if task.stage in action.stages else -1
        for i in range(reached + 1, len(action.stages)):
            staged = replace(final, state=TaskState.RUNNING, stage=action.stages[i])
            partial = partial_result(action, result) if action.stages[i] == action.first_file_stage else None
            bodies.append((i, status_body(staged, signer, base, url_ttl, partial=partial)))
    bodies.append((_stage_seq(task, None), status_body(final, signer, base, url_ttl)))
    return bodies


def partial_result(action: Action, result: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the stage that has the first file shows of the final result: the first item of its result list
    (a stored file, or an item of the generator's extra fields such as a Suno track)."""
    if not result:
        return None
    extra = result.get("extra") or {}
    listed = extra.get(action.result)
    return {
        "files": {kind: items[:1] for kind, items in (result.get("files") or {}).items()},
        "extra": {action.result: listed[:1]} if isinstance(listed, list) else {},
    }


async def finish(
    db: Database,
    task: Task,
    owner: str,
    *,
    signer: UrlSigner,
    url_ttl: int,
    result: dict[str, Any] | None = None,
    error: str | None = None,
    outputs: tuple[int, int] | None = None,
    provider_job: dict[str, Any] | None = None,
) -> bool:
    """Complete (result) or fail (error) a leased task: state, settlement/refund and callback in one commit
    (shared with the finishes of concurrent steps: tasks/finisher.py).
    `outputs`: how many files it stored and their bytes (what `runapi admin storage` counts); `provider_job`:
    the job handle to record with it, when the step that ends the task made it and has not written it yet."""
    now = time.time()
    state = TaskState.FAILED if error is not None else TaskState.COMPLETED
    callbacks = stage_bodies(task, signer, url_ttl, result, error, now)
    # the one commit that ends the task and settles (or refunds) its reservation
    with tracing.span(
        "billing.settle" if error is None else "billing.refund", task_id=task.id, price_cents=task.price_cents
    ) as span:
        closed = await finisher(db).commit(
            functools.partial(
                _close,
                task=task,
                where=_LEASED,
                where_values=_leased(task.id, owner),
                result=result,
                error=error,
                callbacks=callbacks,
                now=now,
                outputs=outputs,
                provider_job=provider_job,
            ),
            task.account_id,
            task.id,
        )
        span.set(applied=closed is not None)
    if closed is None:
        return False  # someone else finished it (a worker, a cancel), or our lease was taken over
    record_task_finished(task.family, state)
    return True


CANCELED = "Canceled by the client"  # the error a cancelled task shows (status body, callback, refund note)


async def cancel(db: Database, task_id: str, account_id: int, *, signer: UrlSigner, url_ttl: int) -> Task:
    """Fail an unfinished task of this account at its client's request: refund, usage row and final callback in
    the one commit `finish` makes. Whoever holds its lease: the update is conditional on the task being
    unfinished only, so the cancel and a worker's finish are ordered by the database; the loser changes nothing
    (every worker write filters on an unfinished state, `_leased`), and a worker mid-step cannot bring the task
    back. Returns the failed task; TaskNotFound for another account's task, Conflict for a finished one."""
    task = await get_task(db, task_id, account_id)
    if task is None:
        raise task_not_found()
    if not task.state.terminal:
        now = time.time()
        # what is read above and used below never changes after create (price, reservation, callback_url);
        # a failed task's callback is only its final body, whatever stage the task reached meanwhile
        callbacks = stage_bodies(task, signer, url_ttl, None, CANCELED, now)
        row = await db.write_sync(_close, task, _UNFINISHED, {"w_id": task.id}, None, CANCELED, callbacks, now)
        if row is not None:
            closed = Task.from_row(row)
            record_task_finished(task.family, closed.state)
            return closed
        task = await get_task(db, task_id, account_id) or task  # a worker finished it first
    raise Conflict(f"Task is already {task.state.wire}")


# A worker's finish only needs to know that it applied; a cancel answers with the whole row.
_CLOSE = {
    _LEASED: update(tasks).where(_LEASED).returning(tasks.c.id),
    _UNFINISHED: update(tasks).where(_UNFINISHED).returning(*tasks.c),
}


def _close(
    conn: Connection,
    task: Task,
    where: ColumnElement[bool],
    where_values: dict[str, Any],
    result: dict[str, Any] | None,
    error: str | None,
    callbacks: list[tuple[int, dict[str, Any]]],
    now: float,
    outputs: tuple[int, int] | None = None,
    provider_job: dict[str, Any] | None = None,
) -> RowMapping | None:
    """End `task` if `where` (_LEASED or _UNFINISHED, with `where_values`) still holds: its state, the settlement
    or refund, its usage row and its callbacks (`callbacks` are its callback bodies, the final one last: queued
    for its callback_url, or without one its final body for the account's `runapi listen` listeners), all in
    the caller's transaction. Returns the row as updated (_UNFINISHED: all of it; _LEASED: its id); None (and
    nothing written) if `where` no longer holds."""
    state = TaskState.FAILED if error is not None else TaskState.COMPLETED
    values: dict[str, Any] = {
        "state": state,
        "result": result,
        "error": error,
        "completed_at": now,
        "updated_at": now,
        "lease_owner": None,
        "lease_until": None,
        "output_files": outputs[0] if outputs else None,
        "output_bytes": outputs[1] if outputs else None,
    }
    if provider_job is not None:
        values["provider_job"] = provider_job
    row = conn.execute(_CLOSE[where], {**values, **where_values}).mappings().first()
    if row is None:
        return None
    if state is TaskState.COMPLETED:
        billing.settle(conn, task.account_id, task.api_key_id, task.id, task.price_cents, task.price_cents)
    else:
        billing.refund(conn, task.account_id, task.api_key_id, task.id, task.price_cents, note=error)
        spend_limits.give_back(conn, [(task.spend_counters, task.price_cents)])
    usage.record_task(
        conn,
        account_id=task.account_id,
        api_key_id=task.api_key_id,
        task_id=task.id,
        family=task.family,
        action=task.action,
        model=task.model,
        provider=task.provider,
        params=task.params,
        price_cents=task.price_cents,
        completed=state == TaskState.COMPLETED,
        created_at=task.created_at,
        at=now,
    )
    if task.callback_url:
        for seq, body in callbacks:
            _queue_callback(conn, task, seq, body, now)
    elif callbacks:
        listen.queue_final(conn, task.account_id, task.id, callbacks[-1][1], now)
    return row
