"""Copy a SQLite deployment's database into an empty PostgreSQL one (`runapi admin migrate`).

Generic over the schema: every table of `schema.metadata` is copied in dependency order (`sorted_tables`), so
tables added later move too; rows keep their primary keys and the target's serial sequences are then set past
them. Both databases are first brought to the newest migration by the project's runner and must then be at the
same revision; the target must be empty. The source is read inside one read transaction (one WAL snapshot:
writers may go on, they are simply not copied), in primary-key order and in batches (bounded memory); the
target is written in one transaction, so a failed copy leaves it empty. JSON columns travel as their stored
text (SQL NULL stays NULL, JSON null stays null); other values through their column types (SQLite's 0/1
booleans become booleans). The copy is then verified against the same snapshot: rows per table, ledger sums
and balances per account, tasks per state.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Integer, Table, Text, bindparam, cast, func, inspect, select, text, type_coerce
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from .db import Database
from .schema import accounts, ledger, metadata, tasks

# Tables of the database that are not rows of the application: the migration runner keeps its own.
_NOT_DATA = {"alembic_version"}


class MigrationRefused(ValueError):
    """The migration cannot start or did not finish; the message says why (and the target is left as it was)."""


@dataclass(frozen=True)
class TableCount:
    name: str
    source: int
    target: int | None  # None: not copied (a dry run)


@dataclass(frozen=True)
class MigrationReport:
    revision: str
    tables: tuple[TableCount, ...]
    mismatches: tuple[str, ...]  # empty: verified
    copied: bool


def postgres_url(url: str) -> str:
    """The async SQLAlchemy URL for a PostgreSQL URL given in any of its usual spellings."""
    parsed = make_url(url)
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise MigrationRefused(f"--to must be a postgresql:// URL, not {parsed.drivername}://")
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def describe(exc: BaseException) -> str:
    """A driver error in one line, without SQLAlchemy's statement dump."""
    orig = getattr(exc, "orig", None) or exc
    message = " ".join(str(orig).split()) or orig.__class__.__name__
    return f"{orig.__class__.__name__}: {message}"[:500]


async def migrate(
    source_url: str,
    target_url: str,
    *,
    batch_size: int = 500,
    dry_run: bool = False,
    progress: Callable[[str], None] = lambda _m: None,
    before_commit: Callable[[], Awaitable[None]] | None = None,
) -> MigrationReport:
    """Copy `source_url` (SQLite) into `target_url` (PostgreSQL, empty). `before_commit` runs after the rows
    are written and before they are committed (the objects' copy), so its failure leaves the target empty."""
    if make_url(source_url).get_backend_name() != "sqlite":
        raise MigrationRefused("the source must be a SQLite deployment (copy PostgreSQL with pg_dump/pg_restore)")
    target_url = postgres_url(target_url)
    source, target = Database(source_url), Database(target_url)
    try:
        try:
            await source.create_schema(wait_seconds=0)
        except Exception as exc:
            raise MigrationRefused(f"cannot open the source database: {describe(exc)}") from exc
        revision = await _revision(source, "source")
        await _check_target(target, target_url, revision, create=not dry_run)
        async with _snapshot(source_url) as snap:
            await _check_known(snap)
            counts = {t.name: await _count(snap, t) for t in metadata.sorted_tables}
            if dry_run:
                rows = tuple(TableCount(name, n, None) for name, n in counts.items())
                return MigrationReport(revision, rows, (), copied=False)
            try:
                async with target.write_engine.begin() as conn:
                    for table in metadata.sorted_tables:
                        await _copy_table(snap, conn, table, batch_size, counts[table.name], progress)
                    await _reset_sequences(conn)
                    if before_commit is not None:
                        await before_commit()
            except MigrationRefused:
                raise
            except Exception as exc:
                raise MigrationRefused(f"copy failed, nothing committed to the target: {describe(exc)}") from exc
            return await _verify(snap, target, revision, counts)
    finally:
        await source.dispose()
        await target.dispose()


async def _revision(db: Database, which: str) -> str:
    try:
        async with db.read() as conn:
            rev = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
    except Exception as exc:
        raise MigrationRefused(f"the {which} database has no migration history: {describe(exc)}") from exc
    if len(rev) != 1:
        raise MigrationRefused(f"the {which} database has no single alembic revision ({rev})")
    return str(rev[0])


async def _check_target(target: Database, url: str, revision: str, create: bool) -> None:
    """Reachable, migrated to `revision` (when `create`) and empty; else refused with the reason."""
    try:
        if create:
            await target.create_schema(wait_seconds=0)
        async with target.read() as conn:
            names = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    except MigrationRefused:
        raise
    except Exception as exc:
        raise MigrationRefused(f"cannot use the target database {shown(url)}: {describe(exc)}") from exc
    if not names:
        return  # a dry run against a new database: nothing there yet
    target_rev = await _revision(target, "target")
    if target_rev != revision:
        raise MigrationRefused(
            f"the target is at migration {target_rev}, the source at {revision}: run the same runapi version on both"
        )
    async with target.read() as conn:
        busy = [
            t.name for t in metadata.sorted_tables if (await conn.execute(select(1).select_from(t).limit(1))).first()
        ]
    if busy:
        raise MigrationRefused(
            f"the target database {shown(url)} is not empty (rows in {', '.join(busy)}): migrate into a new, "
            "empty database (CREATE DATABASE ...), and do not start a server on it before the migration"
        )


@contextlib.asynccontextmanager
async def _snapshot(source_url: str) -> AsyncIterator[AsyncConnection]:
    """One connection holding one read transaction on the SQLite source: every read sees the same state."""
    engine = create_async_engine(source_url, poolclass=NullPool, connect_args={"timeout": 30})
    Database._configure_sqlite(engine.sync_engine, "NORMAL", immediate=False)
    try:
        async with engine.connect() as conn:
            await conn.exec_driver_sql("BEGIN")
            await conn.exec_driver_sql("SELECT count(*) FROM sqlite_master")  # the snapshot starts at a read
            try:
                yield conn
            finally:
                await conn.rollback()
    finally:
        await engine.dispose()


async def _check_known(snap: AsyncConnection) -> None:
    """Refuse rather than silently drop tables or columns this version's schema does not know."""

    def survey(c: Any) -> dict[str, set[str]]:
        insp = inspect(c)
        return {name: {col["name"] for col in insp.get_columns(name)} for name in insp.get_table_names()}

    found = await snap.run_sync(survey)
    unknown = sorted(set(found) - set(metadata.tables) - _NOT_DATA)
    for name, table in metadata.tables.items():
        extra = found.get(name, set()) - set(table.columns.keys())
        unknown += [f"{name}.{col}" for col in sorted(extra)]
    if unknown:
        raise MigrationRefused(
            f"the source has tables/columns this runapi's schema does not know: {', '.join(unknown)}"
        )


async def _count(conn: AsyncConnection, table: Table) -> int:
    return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


def _read_statement(table: Table) -> Any:
    cols = [type_coerce(c, Text).label(c.name) if isinstance(c.type, JSON) else c for c in table.columns]
    return select(*cols).order_by(*table.primary_key.columns)


def _write_statement(table: Table) -> Any:
    """INSERT of every column from parameters named p_<column>; JSON as text cast by the target."""
    values = {
        c.name: cast(bindparam(f"p_{c.name}", type_=Text), c.type)
        if isinstance(c.type, JSON)
        else bindparam(f"p_{c.name}", type_=c.type)
        for c in table.columns
    }
    return table.insert().values(values)


async def _copy_table(
    snap: AsyncConnection,
    conn: AsyncConnection,
    table: Table,
    batch_size: int,
    total: int,
    progress: Callable[[str], None],
) -> None:
    insert = _write_statement(table)
    done = 0
    result = await snap.stream(_read_statement(table))
    async for batch in result.partitions(batch_size):
        rows = [{f"p_{k}": v for k, v in row._mapping.items()} for row in batch]
        try:
            await conn.execute(insert, rows)
        except Exception as exc:
            raise MigrationRefused(
                f"copy failed in table {table.name}, nothing committed to the target: {describe(exc)}"
            ) from exc
        done += len(rows)
        progress(f"{table.name}: {done}/{total} rows")
    if total == 0:
        progress(f"{table.name}: 0 rows")


async def _reset_sequences(conn: AsyncConnection) -> None:
    """Point each serial primary key's sequence past the copied ids, so new rows do not collide with them."""
    for table in metadata.sorted_tables:
        for col in table.primary_key.columns:
            if not isinstance(col.type, Integer):
                continue
            seq = (
                await conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": col.name})
            ).scalar()
            if seq is None:
                continue
            top = (await conn.execute(select(func.max(col)))).scalar()
            await conn.execute(text("SELECT setval(:s, :v, false)"), {"s": seq, "v": int(top or 0) + 1})


async def _facts(conn: AsyncConnection) -> dict[str, dict[Any, Any]]:
    """What must be equal on both sides beyond the row counts: money per account and tasks per state."""
    sums = select(ledger.c.account_id, func.coalesce(func.sum(ledger.c.amount_cents), 0)).group_by(ledger.c.account_id)
    bal = select(accounts.c.id, accounts.c.balance_cents, accounts.c.carry_micro_cents)
    states = select(tasks.c.state, func.count()).group_by(tasks.c.state)
    return {
        "ledger sum": {a: int(s) for a, s in (await conn.execute(sums)).all()},
        "balance": {a: (int(b), int(c)) for a, b, c in (await conn.execute(bal)).all()},
        "tasks in state": {s: int(n) for s, n in (await conn.execute(states)).all()},
    }


async def _verify(snap: AsyncConnection, target: Database, revision: str, counts: dict[str, int]) -> MigrationReport:
    async with target.read() as conn:
        copied = {t.name: await _count(conn, t) for t in metadata.sorted_tables}
        theirs = await _facts(conn)
    ours = await _facts(snap)
    mismatches = [
        f"{name}: {n} rows in the source, {copied[name]} in the target"
        for name, n in counts.items()
        if copied[name] != n
    ]
    for fact, mine in ours.items():
        for key in sorted(set(mine) | set(theirs[fact]), key=str):
            if mine.get(key) != theirs[fact].get(key):
                mismatches.append(f"{fact} {key}: {mine.get(key)} in the source, {theirs[fact].get(key)} in the target")
    rows = tuple(TableCount(name, n, copied[name]) for name, n in counts.items())
    return MigrationReport(revision, rows, tuple(mismatches), copied=True)
