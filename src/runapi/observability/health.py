"""Readiness: does the database answer a query, and is the object storage reachable (and, on a local disk,
is there room above the free-space floor)?"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import text

from ..storage import LocalStorage, Storage
from ..store import Database

CHECK_TIMEOUT_SECONDS = 3.0


async def check_database(db: Database) -> None:
    async with db.read() as conn:
        await conn.execute(text("SELECT 1"))


async def check_storage(storage: Storage) -> None:
    if isinstance(storage, LocalStorage):
        if not storage.root.is_dir() or not os.access(storage.root, os.W_OK | os.X_OK):
            raise OSError(f"storage directory {storage.root} is missing or not writable")
        free = await asyncio.to_thread(storage.free_bytes)
        if free < storage.min_free_bytes:  # uploads would be refused with 507: send traffic elsewhere
            raise OSError(
                f"{free // 2**20} MiB free, below the {storage.min_free_bytes // 2**20} MiB floor "
                "(RUNAPI_STORAGE_MIN_FREE_BYTES)"
            )
        return
    bucket, client = getattr(storage, "bucket", None), getattr(storage, "client", None)
    if bucket and client is not None:  # S3-compatible: one HEAD on the bucket
        await asyncio.to_thread(client.head_bucket, Bucket=bucket)


async def _outcome(check: Callable[[], Awaitable[None]]) -> dict[str, Any]:
    try:
        await asyncio.wait_for(check(), timeout=CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        return {"status": "error", "error": f"no answer within {CHECK_TIMEOUT_SECONDS:g} s"}
    except Exception as exc:  # noqa: BLE001 - a probe reports whatever went wrong
        return {"status": "error", "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"status": "ok"}


async def readiness(db: Database, storage: Storage) -> tuple[bool, dict[str, Any]]:
    """(ready, body): both checks run concurrently; any failure makes the node not ready."""
    db_result, storage_result = await asyncio.gather(
        _outcome(lambda: check_database(db)), _outcome(lambda: check_storage(storage))
    )
    ready = db_result["status"] == storage_result["status"] == "ok"
    return ready, {
        "status": "ready" if ready else "unavailable",
        "checks": {"database": db_result, "storage": storage_result},
    }
