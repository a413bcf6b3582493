"""Database access: `read()` and `write()` transactions over SQLite (default) or PostgreSQL.

SQLite allows one writer at a time. Write transactions start with BEGIN IMMEDIATE so they queue on the lock
(busy_timeout) instead of failing when a read lock cannot be upgraded, and writers inside one process queue
on an asyncio lock so they don't spin on the file lock. Reads use a separate engine and never wait for writers.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import AsyncIterator

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine



class Database:
    def __init__(self, url: str, sqlite_synchronous: str = "FULL"):
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        if self.is_sqlite:
            if self.url.database and self.url.database != ":memory:":
                Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
            self.write_engine = self._sqlite_engine(url, sqlite_synchronous, immediate=True)
            self.read_engine = self._sqlite_engine(url, sqlite_synchronous, immediate=False)
            self._write_lock: asyncio.Lock | None = asyncio.Lock()
        else:
            self.write_engine = self.read_engine = create_async_engine(url, pool_pre_ping=True)
            self._write_lock = None

    @staticmethod
    def _sqlite_engine(url: str, synchronous: str, immediate: bool) -> AsyncEngine:
        # Reads run in autocommit (each statement its own snapshot) with no reset-on-return: every
        # statement costs a hop to aiosqlite's thread, so BEGIN/ROLLBACK around a lone SELECT would triple it.
        engine = create_async_engine(url, connect_args={"timeout": 30}, pool_size=8, max_overflow=8,
                                     pool_reset_on_return="rollback" if immediate else None)

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_conn, _record):  # noqa: ANN001
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={synchronous}")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        if immediate:
            @event.listens_for(engine.sync_engine, "begin")
            def _on_begin(conn):  # noqa: ANN001
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine

    async def create_schema(self) -> None:
        """Bring the schema to the newest migration (Alembic), in one transaction."""
        from alembic import command
        from alembic.config import Config

        def upgrade(sync_conn) -> None:  # noqa: ANN001
            cfg = Config()
            cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
            cfg.attributes["connection"] = sync_conn
            command.upgrade(cfg, "head")

        async with self.write_engine.begin() as conn:
            await conn.run_sync(upgrade)

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """One transaction that commits on success and rolls back on any exception."""
        if self._write_lock is None:
            async with self.write_engine.begin() as conn:
                yield conn
            return
        async with self._write_lock:
            async with self.write_engine.begin() as conn:
                yield conn

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.read_engine.connect() as conn:
            yield conn

    async def dispose(self) -> None:
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()
