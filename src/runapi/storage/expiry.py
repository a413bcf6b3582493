"""File expiry: uploaded files past their hour are deleted (the object, then the row's state). Runs in every
process that owns the services (API or worker), below the web layer."""

from __future__ import annotations

import time

from sqlalchemy import select, update

from ..store import Database
from ..store.schema import files
from . import Storage, quota

BATCH = 500  # rows per run: the loop runs again in 30 s


async def expire_files(db: Database, storage: Storage) -> int:
    """Delete files past their hour: the object, then the row's state. Returns how many went."""
    now = time.time()
    async with db.read() as conn:
        rows = (await conn.execute(select(files.c.id, files.c.key).where(
            files.c.state.in_(quota.HELD_STATES), files.c.expires_at < now).limit(BATCH))).all()
    for file_id, key in rows:
        for k in (key, f"pending/{file_id}"):
            if k:
                await storage.delete(k)
        async with db.write() as conn:
            await conn.execute(update(files).where(files.c.id == file_id).values(state="deleted"))
    return len(rows)
