"""The Alembic migrations produce exactly the schema the code declares."""

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from runapi.store import Database
from runapi.store.schema import metadata


def test_migrations_match_the_declared_schema(tmp_path):
    async def go():
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}", "NORMAL")
        await db.create_schema()
        await db.create_schema()  # idempotent: a restart upgrades nothing

        def diff(sync_conn):
            return compare_metadata(MigrationContext.configure(sync_conn), metadata)

        async with db.read_engine.connect() as conn:
            result = await conn.run_sync(diff)
        await db.dispose()
        return result

    assert asyncio.run(go()) == []
