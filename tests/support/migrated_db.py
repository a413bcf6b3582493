"""A SQLite database file at the newest migration, made once per test module: each test starts from a copy
(migrating is most of the cost of a fresh database)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from runapi.settings import Settings
from runapi.store import Database

DB_FILE = "runapi.db"


def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The migrated database file (make it from a module-scoped fixture)."""
    template = tmp_path_factory.mktemp("migrated")

    async def migrate() -> None:
        db = Database(Settings(data_dir=template).resolved_database_url)
        await db.create_schema()
        await db.dispose()

    asyncio.run(migrate())
    return template / DB_FILE


def copy_into(template: Path, data_dir: Path) -> Path:
    """`data_dir` holding a copy of the migrated database; returns it."""
    shutil.copy(template, data_dir / DB_FILE)
    return data_dir
