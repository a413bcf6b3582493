"""Storing an uploaded file: sniff its type, reserve its row against the account's upload limits, write the
bytes, mark it ready. The one path behind POST /api/v1/files (and the two-step upload's confirm) and the web
console's playground file inputs, so both take the same limits and keep the same records.

Refusals are exceptions the caller words for its surface: `UnsupportedType`, `quota.UploadRefused` (rate or
quota) and `StorageFull` (our disk)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from .. import files_policy as policy
from ..store import Database
from . import Storage, files_store, quota
from .files_store import StoredFile


class UnsupportedType(Exception):
    """The bytes are of no type the files API accepts."""


async def store_upload(
    db: Database,
    storage: Storage,
    limits: quota.UploadLimits,
    account_id: int,
    api_key_id: str | None,
    data: bytes,
    name: str | None,
    file_id: str | None = None,
) -> StoredFile:
    """Sniff, store and record a ready file. `file_id`: a confirmed prepared upload, whose row was reserved
    (and counted against the limits) when it was prepared."""
    mime = policy.sniff(data)
    if mime is None:
        raise UnsupportedType()
    now = time.time()
    prepared = file_id is not None
    file_id = file_id or f"file_{uuid.uuid4().hex}"
    file_name = policy.clean_file_name(name, mime)
    key = f"uploads/{account_id}/{file_id}/{file_name}"
    row: dict[str, Any] = {
        "id": file_id,
        "account_id": account_id,
        "api_key_id": api_key_id,
        "key": key,
        "file_name": file_name,
        "size_bytes": len(data),
        "mime_type": mime,
        "state": "storing",
        "created_at": now,
        "expires_at": now + policy.LIFETIME_SECONDS,
    }
    if not prepared:
        await quota.reserve(db, row, limits)
    try:
        await storage.put(key, data, mime)
    except BaseException:
        if not prepared:
            await quota.release(db, file_id)
        raise
    return await files_store.mark_ready(db, row)
