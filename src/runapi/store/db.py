"""Database access: `read()` and `write()` transactions over SQLite (default) or PostgreSQL.

SQLite allows one writer at a time. Write transactions start with BEGIN IMMEDIATE so they queue on the lock
(busy_timeout) instead of failing when a read lock cannot be upgraded, and writers inside one process queue
on an asyncio lock so they don't spin on the file lock. Reads use a separate engine and never wait for writers.
`read_sync` runs a synchronous read in one thread hop on a small pool of read-only sqlite3 connections;
`read_rows` runs a constant SELECT there as plain sqlite3 (compiled once), the cheapest read of all; a
`write_sync` function can do the same for its hot writes (`plain_sqlite`, `CompiledWrite`).

PostgreSQL (asyncpg) runs at READ COMMITTED with one pool for both; the money paths stay exact through
conditional updates (`balance >= x`) and row locks (`FOR UPDATE`), task claims through `SKIP LOCKED`.
Start-up work that many processes may race on (migrations, the first account) takes a cluster-wide lock.
Losing the database raises `DatabaseUnavailable` (a 503), never a bare driver error.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import logging
import sqlite3
import threading
import zlib
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy import ClauseElement, Connection, Dialect, Engine, Select, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql.compiler import SQLCompiler

from .driver_errors import DatabaseUnavailable, is_unavailable, unstorable_text

log = logging.getLogger("runapi.store")
T = TypeVar("T")

MIGRATIONS = Path(__file__).parent / "migrations"


@functools.cache
def newest_revision() -> str:
    """The newest migration's revision id, read off the file names (each revision id is its file's name,
    numbered: 0017_rate_limits.py is "0017_rate_limits"), so checking it needs no Alembic. A test holds it
    to Alembic's own head."""
    return max(p.stem for p in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))


class Database:
    def __init__(self, url: str, sqlite_synchronous: str = "FULL", pool_size: int = 10, max_overflow: int = 20):
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        if self.is_sqlite:
            if self.url.database and self.url.database != ":memory:":
                Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
            self.write_engine = self._sqlite_engine(url, sqlite_synchronous, immediate=True)
            self.read_engine = self._sqlite_engine(url, sqlite_synchronous, immediate=False)
            self._write_lock: asyncio.Lock | None = asyncio.Lock()
            # write_sync's engine: plain sqlite3 on one thread of its own (created on first use)
            self._sqlite_sync: tuple[Engine, ThreadPoolExecutor] | None = None
            self._queued: list[tuple[Callable[..., Any], tuple[Any, ...], asyncio.Future[Any]]] = []
            self._drainer: asyncio.Task[None] | None = None  # runs what is queued, while anything is
            self._synchronous = sqlite_synchronous
            # read_sync's pool: one read-only sqlite3 connection per thread (created on first use)
            self._sqlite_readers: tuple[Engine, ThreadPoolExecutor] | None = None
            self._reader_local = threading.local()
            self._reader_conns: list[Connection] = []  # every reader thread's, closed by dispose()
            self._compiled: dict[Select[Any], _CompiledRead] = {}  # read_rows' statements
        else:
            # pre-ping: connections that died with a server restart are replaced on checkout, not handed out
            self.write_engine = self.read_engine = create_async_engine(
                url,
                pool_pre_ping=True,
                pool_size=pool_size,
                max_overflow=max_overflow,
                pool_timeout=10,
                connect_args={"timeout": 5, "command_timeout": 60},
            )
            self._write_lock = None

    READ_THREADS = 4  # sqlite3 releases the GIL while it reads, so a few threads overlap file work

    @staticmethod
    def _configure_sqlite(engine: Engine, synchronous: str, immediate: bool, read_only: bool = False) -> None:
        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: object) -> None:  # the driver's own connection
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={synchronous}")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            if read_only:  # a bug that writes through the read pool fails instead of bypassing the write lock
                cur.execute("PRAGMA query_only=ON")
            cur.close()

        if immediate:

            @event.listens_for(engine, "begin")
            def _on_begin(conn: Connection) -> None:
                dbapi = conn.connection.dbapi_connection
                if isinstance(dbapi, sqlite3.Connection):  # write_sync's thread: straight to the driver
                    dbapi.execute("BEGIN IMMEDIATE")
                else:
                    conn.exec_driver_sql("BEGIN IMMEDIATE")

    @staticmethod
    def _sqlite_engine(url: str, synchronous: str, immediate: bool) -> AsyncEngine:
        # Reads run in autocommit (each statement its own snapshot) with no reset-on-return: every
        # statement costs a hop to aiosqlite's thread, so BEGIN/ROLLBACK around a lone SELECT would triple it.
        engine = create_async_engine(
            url,
            connect_args={"timeout": 30},
            pool_size=8,
            max_overflow=8,
            pool_reset_on_return="rollback" if immediate else None,
        )
        Database._configure_sqlite(engine.sync_engine, synchronous, immediate)
        return engine

    async def create_schema(self, wait_seconds: float = 60.0) -> None:
        """Bring the schema to the newest migration (Alembic), in one transaction. Processes starting together
        take turns (an advisory lock on PostgreSQL, the write lock on SQLite); the later ones find it done.
        A process started while the database is down (a restart, a failover) waits up to `wait_seconds`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        while True:
            try:
                return await self._upgrade()
            except Exception as exc:
                if not is_unavailable(exc) or loop.time() > deadline:
                    raise
                log.warning("database unavailable at start-up (%s); retrying", exc.__class__.__name__)
                await asyncio.sleep(1.0)

    async def _upgrade(self) -> None:
        if await self.schema_is_current():
            return  # a restart: no lock to take, and Alembic (~0.1 s of imports, ~8 MB) stays unloaded
        from alembic import command
        from alembic.config import Config

        def upgrade(sync_conn: Connection) -> None:
            cfg = Config()
            cfg.set_main_option("script_location", str(MIGRATIONS))
            cfg.attributes["connection"] = sync_conn
            command.upgrade(cfg, "head")

        async with self.write_engine.begin() as conn:
            if not self.is_sqlite:
                await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_id("migrations")})
            await conn.run_sync(upgrade)

    async def schema_is_current(self) -> bool:
        """Whether the database is at the newest migration (alembic_version holds exactly its revision).
        Safe without the migrations lock: an upgrade writes the new revision in the transaction that migrates,
        so seeing it means the upgrade is committed. Anything else (a new database, an older or newer revision,
        several heads) is for Alembic to handle, under the lock."""
        if self.is_sqlite:
            exists = text("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'")
        else:  # (the search path, as Alembic resolves it)
            exists = text("SELECT to_regclass('alembic_version') IS NOT NULL")
        async with self.read_engine.connect() as conn:
            if not (await conn.execute(exists)).scalar():
                return False
            revisions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
        return list(revisions) == [newest_revision()]

    @contextlib.asynccontextmanager
    async def startup_lock(self, name: str) -> AsyncIterator[None]:
        """Hold a lock shared by every process on this database while doing once-only start-up work."""
        if not self.is_sqlite:
            async with self.write_engine.connect() as conn:
                await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _lock_id(name)})
                await conn.commit()
                try:
                    yield
                finally:
                    await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _lock_id(name)})
                    await conn.commit()
            return
        if not self.url.database or self.url.database == ":memory:":
            yield  # a private in-memory database has one process
            return
        path = Path(self.url.database).with_suffix(f".{name}.lock")
        fh = await asyncio.to_thread(path.open, "a")
        try:
            await asyncio.to_thread(fcntl.flock, fh.fileno(), fcntl.LOCK_EX)  # released when fh closes
            yield
        finally:
            fh.close()

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """One transaction that commits on success and rolls back on any exception."""
        try:
            if self._write_lock is None:
                async with self.write_engine.begin() as conn:
                    yield conn
                return
            async with self._write_lock, self.write_engine.begin() as conn:
                yield conn
        except Exception as exc:
            _raise_for_client(exc)
            raise

    async def write_sync(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(connection, *args)` (synchronous SQLAlchemy, no awaits inside) as one write transaction.

        On SQLite it runs on a writer thread of its own over plain sqlite3: one thread hop for the whole
        transaction, where `write()` pays one per statement through aiosqlite (most of the cost of a small
        transaction). Elsewhere it runs through the async engine (`run_sync`)."""
        if self._write_lock is None or self.url.database in (None, "", ":memory:"):  # (a private in-memory
            async with self.write() as conn:  # database has one connection)
                return await conn.run_sync(fn, *args)
        loop = asyncio.get_running_loop()
        done: asyncio.Future[T] = loop.create_future()
        self._queued.append((fn, args, done))
        drainer = self._drainer
        if drainer is None or drainer.done() or drainer.get_loop() is not loop:
            self._drainer = loop.create_task(self._drain())
        try:
            return await done
        except Exception as exc:
            _raise_for_client(exc)
            raise

    WRITE_BATCH = 64  # write_sync transactions run per thread hop at most

    async def _drain(self) -> None:
        """Run the queued write_sync functions on the writer thread, as many as are waiting per thread hop, in
        one transaction with a savepoint each (`_in_transactions`): each caller hears of its own outcome once
        the COMMIT is durable. Under load the writer neither waits on the event loop between functions nor
        pays a COMMIT (an fsync with synchronous=FULL: most of a small transaction's time) for each."""
        engine, thread = self._sqlite_writer()
        loop, lock = asyncio.get_running_loop(), self._write_lock
        assert lock is not None  # (SQLite)
        try:
            while self._queued:
                # (a caller cancelled while its transaction waited has it dropped, as when it waited on the lock)
                batch = [job for job in self._queued[: self.WRITE_BATCH] if not job[2].done()]
                del self._queued[: self.WRITE_BATCH]
                if not batch:
                    continue
                try:
                    async with lock:  # write() transactions take turns with the batches
                        outcomes = await loop.run_in_executor(thread, _in_transactions, engine, batch)
                except asyncio.CancelledError:  # the loop is closing: nobody waits on the rest
                    for _fn, _args, done in batch + self._queued:
                        done.cancel()
                    self._queued.clear()
                    raise
                except Exception as exc:  # the hop itself failed (writer shut down): its callers hear of it
                    outcomes = [(False, exc)] * len(batch)
                for (_fn, _args, done), (ok, value) in zip(batch, outcomes, strict=True):
                    if done.done():  # its caller was cancelled
                        continue
                    if ok:
                        done.set_result(value)
                    else:
                        done.set_exception(value)
        finally:
            if self._drainer is asyncio.current_task():
                self._drainer = None

    def _sqlite_writer(self) -> tuple[Engine, ThreadPoolExecutor]:
        if self._sqlite_sync is None:
            sync_url = self.url.set(drivername="sqlite+pysqlite")
            # One connection, used only by the one writer thread.
            engine = create_engine(
                sync_url, poolclass=StaticPool, connect_args={"timeout": 30, "check_same_thread": False}
            )
            self._configure_sqlite(engine, self._synchronous, immediate=True)
            self._sqlite_sync = (engine, ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer"))
        return self._sqlite_sync

    async def read_sync(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(connection, *args)` (synchronous SQLAlchemy, reads only, no awaits inside) and return what it
        returns (rows fetched inside `fn`: the connection is only valid there).

        On a SQLite file it runs in one thread hop on a pool thread's own read-only sqlite3 connection, in
        autocommit: each statement sees the newest committed state (WAL), including a commit this process made
        just before. `read()` pays ~5 hops for the same (aiosqlite's thread, greenlet, the rollback on return).
        Elsewhere (PostgreSQL, a private in-memory database) it runs through `read()` (`run_sync`)."""
        if self._write_lock is None or self.url.database in (None, "", ":memory:"):
            async with self.read() as conn:
                return await conn.run_sync(fn, *args)
        engine, pool = self._sqlite_reader_pool()
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, self._on_reader, engine, fn, args)
        except Exception as exc:
            _raise_for_client(exc)
            raise

    def _sqlite_reader_pool(self) -> tuple[Engine, ThreadPoolExecutor]:
        if self._sqlite_readers is None:
            engine = create_engine(
                self.url.set(drivername="sqlite+pysqlite"),
                pool_size=self.READ_THREADS,
                max_overflow=self.READ_THREADS,  # room to replace ones a lost connection invalidated
                pool_reset_on_return=None,  # autocommit: nothing to roll back
                connect_args={"timeout": 30, "check_same_thread": False},
            )
            self._configure_sqlite(engine, self._synchronous, immediate=False, read_only=True)
            pool = ThreadPoolExecutor(max_workers=self.READ_THREADS, thread_name_prefix="sqlite-reader")
            self._sqlite_readers = (engine, pool)
        return self._sqlite_readers

    def _on_reader(self, engine: Engine, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        """On a reader thread: run `fn` on the connection this thread keeps for its life (no pool checkout)."""
        conn: Connection | None = getattr(self._reader_local, "conn", None)
        if conn is None or conn.closed or conn.invalidated:
            conn = self._reader_local.conn = engine.connect()
            self._reader_conns.append(conn)
        try:
            return fn(conn, *args)
        finally:
            # End SQLAlchemy's notional transaction (the driver is in autocommit: no BEGIN was sent, so this
            # is no statement): the next call's statements see the newest commit.
            conn.rollback()

    async def read_rows(self, stmt: Select[Any], **params: Any) -> list[dict[str, Any]]:
        """The rows of `stmt`, a module-level constant SELECT whose values are `bindparam`s named by `params`,
        as dicts keyed by column name with the values the async engine returns.

        On a SQLite file it is compiled once (per statement object) and run as plain sqlite3 on the read pool,
        one thread hop, without SQLAlchemy's per-execution work (cache key, execution context, result object):
        about a third of `read_sync`'s CPU for a task status read. Elsewhere it runs through `read()`."""
        if self._write_lock is None or self.url.database in (None, "", ":memory:"):
            async with self.read() as conn:
                return [dict(r) for r in (await conn.execute(stmt, params)).mappings().all()]
        compiled = self._compiled.get(stmt)
        if compiled is None:
            if len(self._compiled) >= 256:  # constants only; a bound in case one is built per call
                self._compiled.clear()
            compiled = self._compiled[stmt] = _CompiledRead.of(stmt, self.read_engine.sync_engine.dialect)
        args = compiled.args(params)
        engine, pool = self._sqlite_reader_pool()
        try:
            return await asyncio.get_running_loop().run_in_executor(
                pool, self._on_reader, engine, compiled.run, (args,)
            )
        except Exception as exc:
            _raise_for_client(exc)
            raise

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        try:
            async with self.read_engine.connect() as conn:
                yield conn
        except Exception as exc:
            _raise_for_client(exc)
            raise

    async def dispose(self) -> None:
        if self._write_lock is not None and self._sqlite_readers is not None:
            engine, pool = self._sqlite_readers
            self._sqlite_readers = None
            pool.shutdown(wait=True)
            for conn in self._reader_conns:  # each thread's, checked out for the thread's life
                conn.close()
            self._reader_conns.clear()
            engine.dispose()
        if self._write_lock is not None and self._sqlite_sync is not None:
            engine, thread = self._sqlite_sync
            await asyncio.get_running_loop().run_in_executor(thread, engine.dispose)
            thread.shutdown(wait=True)
            self._sqlite_sync = None
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()


@dataclass(frozen=True)
class _CompiledRead:
    """A SELECT compiled for SQLite: its SQL, its parameters in order, and each result column's name and
    decoder (JSON columns are text in SQLite: the same processors the engine applies)."""

    sql: str
    params: tuple[str, ...]
    defaults: dict[str, Any]  # the values written into the statement (`col == 5`), by their anonymous names
    names: tuple[str, ...]
    decoders: tuple[Callable[[Any], Any] | None, ...]

    def args(self, given: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(given[p] if p in given else self.defaults[p] for p in self.params)

    @classmethod
    def of(cls, stmt: Select[Any], dialect: Dialect) -> _CompiledRead:
        compiled = stmt.compile(dialect=dialect)
        if compiled.positiontup is None or any(compiled._bind_processors.get(p) for p in compiled.positiontup):
            raise ValueError("read_rows takes bindparams of plain values (no bind-side conversion)")
        names = tuple(str(c.key) for c in stmt.selected_columns)
        if len(set(names)) != len(names):
            raise ValueError(f"read_rows needs distinct column names, got {names}")
        decoders = tuple(c.type._cached_result_processor(dialect, None) for c in stmt.selected_columns)
        defaults = {name: value for name, value in compiled.params.items() if not compiled.binds[name].required}
        return cls(str(compiled), tuple(compiled.positiontup), defaults, names, decoders)

    def run(self, conn: Connection, args: tuple[Any, ...]) -> list[dict[str, Any]]:
        cursor = conn.connection.dbapi_connection.execute(self.sql, args)  # type: ignore[union-attr]
        names, decoders = self.names, self.decoders
        try:
            return [
                {n: (d(v) if d is not None else v) for n, d, v in zip(names, decoders, row, strict=True)}
                for row in cursor.fetchall()
            ]
        finally:
            cursor.close()


def plain_sqlite(conn: Connection) -> sqlite3.Connection | None:
    """The plain sqlite3 connection under a `write_sync` transaction (SQLite file), or None (PostgreSQL, a
    private in-memory database on aiosqlite). Statements run on it join the transaction `write_sync` began."""
    dbapi = conn.connection.dbapi_connection
    return dbapi if isinstance(dbapi, sqlite3.Connection) else None


@dataclass(frozen=True)
class CompiledWrite:
    """A constant statement compiled once for SQLite, run on the writer's plain sqlite3 connection: its SQL, its
    parameters in order, and the bind-side conversions the engine would apply (JSON columns become text), so
    it writes exactly what `conn.execute(stmt, values)` writes without SQLAlchemy's per-execution work."""

    sql: str
    params: tuple[str, ...]
    converts: tuple[tuple[int, Callable[[Any], Any]], ...]  # (position, conversion) where the engine converts

    @classmethod
    def of(cls, stmt: ClauseElement, dialect: Dialect, keys: tuple[str, ...] | None = None) -> CompiledWrite:
        compiled = cast(
            SQLCompiler, stmt.compile(dialect=dialect, column_keys=list(keys) if keys is not None else None)
        )
        if not compiled.positiontup:
            raise ValueError("CompiledWrite needs a statement with positional bindparams")
        converts = []
        for i, name in enumerate(compiled.positiontup):
            proc = compiled._bind_processors.get(name)
            if proc is not None:
                if not callable(proc):  # a tuple type's per-element conversions: not used here
                    raise ValueError(f"CompiledWrite cannot convert parameter {name!r}")
                converts.append((i, proc))
        return cls(str(compiled), tuple(compiled.positiontup), tuple(converts))

    def args(self, values: dict[str, Any]) -> list[Any]:
        args = [values[p] for p in self.params]
        for i, convert in self.converts:
            args[i] = convert(args[i])
        return args

    def run(self, raw: sqlite3.Connection, values: dict[str, Any]) -> sqlite3.Cursor:
        return raw.execute(self.sql, self.args(values))

    def run_many(self, raw: sqlite3.Connection, rows: list[dict[str, Any]]) -> None:
        raw.executemany(self.sql, [self.args(r) for r in rows])


_COMPILED_IN: dict[tuple[ClauseElement, int], str] = {}


def compiled_in(stmt: ClauseElement, dialect: Dialect, n: int) -> str:
    """The SQL of a constant statement whose only parameter is one expanding list (`x IN :ids`), for lists of
    `n` values (compiled once per length); its positional arguments are the list's values in order."""
    sql = _COMPILED_IN.get((stmt, n))
    if sql is None:
        compiled = cast(SQLCompiler, stmt.compile(dialect=dialect))
        names = [b.key for b in compiled.binds.values() if b.expanding]
        if len(names) != 1 or len(compiled.binds) != 1:
            raise ValueError("compiled_in takes a statement with exactly one expanding bindparam")
        sql = compiled.construct_expanded_state({names[0]: [None] * n}).statement
        if len(_COMPILED_IN) >= 1024:  # one per statement and list length: bounded by the batch size
            _COMPILED_IN.clear()
        _COMPILED_IN[(stmt, n)] = sql
    return sql


def _in_transactions(
    engine: Engine, batch: list[tuple[Callable[..., Any], tuple[Any, ...], Any]]
) -> list[tuple[bool, Any]]:
    """On the writer thread: the batch's functions in order, each in a savepoint of one transaction (group
    commit: one COMMIT, one fsync, for all of them). A function that raises has its savepoint rolled back
    alone: (False, error); the others answer (True, result) only once the COMMIT succeeded, so nobody hears
    of a write that is not durable. One connection checkout for the batch."""
    outcomes: list[tuple[bool, Any]] = []
    with engine.connect() as conn:
        if len(batch) == 1:  # alone, its transaction is its savepoint (SAVEPOINT and RELEASE cost ~40 µs)
            fn, args, _done = batch[0]
            try:
                with conn.begin():
                    return [(True, fn(conn, *args))]
            except Exception as exc:
                return [(False, exc)]
        try:
            with conn.begin():
                for fn, args, _done in batch:
                    savepoint = conn.begin_nested()
                    try:
                        result = fn(conn, *args)
                    except Exception as exc:
                        savepoint.rollback()
                        outcomes.append((False, exc))
                    else:
                        savepoint.commit()
                        outcomes.append((True, result))
        except Exception as exc:  # the COMMIT (or the transaction itself) failed: nothing of it is durable
            if len(outcomes) < len(batch):
                outcomes += [(False, exc)] * (len(batch) - len(outcomes))
            outcomes = [(False, exc) if ok else (ok, value) for ok, value in outcomes]
    return outcomes


def _raise_for_client(exc: Exception) -> None:
    """Turn the driver errors that are not bugs into the client errors they are."""
    if isinstance(exc, DatabaseUnavailable):
        return
    if is_unavailable(exc):
        raise DatabaseUnavailable() from exc
    bad_text = unstorable_text(exc)
    if bad_text is not None:
        raise bad_text from exc


def _lock_id(name: str) -> int:
    """A stable advisory-lock key per purpose (namespaced so it cannot collide with other applications')."""
    return zlib.crc32(f"runapi:{name}".encode())
