"""File expiry: uploaded files past their hour are deleted (the object, then the row's state), and multipart
uploads not completed within theirs expire (parts discarded). Runs in every process that owns the services
(API or worker), below the web layer, as the first part of the retention job (runapi/retention.py)."""

from __future__ import annotations

from ..store import Database
from . import Storage, files_store
from .multipart import expire_uploads

BATCH = 500  # rows per run (RUNAPI_RETENTION_BATCH): the loop runs again later


async def expire_files(db: Database, storage: Storage, batch: int = BATCH) -> int:
    """Delete files past their hour: the object, then the row's state; expire uploads past theirs. Returns how
    many files went."""
    await expire_uploads(db, storage)
    gone = await files_store.expired(db, batch)
    for f in gone:
        for k in (f.key, f"pending/{f.id}"):
            if k:
                await storage.delete(k)
        await files_store.mark_deleted(db, f.id)
    return len(gone)
