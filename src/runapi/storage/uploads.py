"""Storing an uploaded file: sniff its type, reserve its row against the account's upload limits, write the
bytes, mark it ready. The one path behind POST /api/v1/files (and the two-step upload's confirm) and the web
console's playground file inputs, so both take the same limits and keep the same records.

Refusals are exceptions the caller words for its surface: `UnsupportedType`, `quota.UploadRefused` (rate or
quota) and `StorageFull` (our disk)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any, BinaryIO

from .. import files_policy as policy
from ..store import Database
from . import Storage, files_store, quota
from .files_store import StoredFile

SNIFF_BYTES = 8192  # what files_policy.sniff looks at


class UnsupportedType(Exception):
    """The bytes are of no type the files API accepts."""


@dataclass(frozen=True)
class Spooled:
    """A file's bytes in a (temporary) file, stored from there without reading them all into memory: a
    multipart request's file part, an upload's assembled parts."""

    file: BinaryIO
    size: int

    def head(self, n: int = SNIFF_BYTES) -> bytes:
        self.file.seek(0)
        data = self.file.read(n)
        self.file.seek(0)
        return data


def new_file_id() -> str:
    return f"file_{uuid.uuid4().hex}"


async def store_upload(
    db: Database,
    storage: Storage,
    limits: quota.UploadLimits,
    account_id: int,
    api_key_id: str | None,
    data: bytes | Spooled,
    name: str | None,
    file_id: str | None = None,
    purpose: str | None = None,
) -> StoredFile:
    """Sniff, store and record a ready file. `file_id`: a confirmed prepared upload or a completed multipart
    upload, whose row was reserved (and counted against the limits) when it was started."""
    mime = policy.sniff(data[:SNIFF_BYTES] if isinstance(data, bytes) else data.head())
    if mime is None:
        raise UnsupportedType()
    now = time.time()
    prepared = file_id is not None
    file_id = file_id or new_file_id()
    file_name = policy.clean_file_name(name, mime)
    key = f"uploads/{account_id}/{file_id}/{file_name}"
    row: dict[str, Any] = {
        "id": file_id,
        "account_id": account_id,
        "api_key_id": api_key_id,
        "key": key,
        "file_name": file_name,
        "size_bytes": len(data) if isinstance(data, bytes) else data.size,
        "mime_type": mime,
        "state": "storing",
        "created_at": now,
        "expires_at": now + policy.LIFETIME_SECONDS,
        "purpose": purpose,
    }
    if not prepared:
        await quota.reserve(db, row, limits)
    try:
        if isinstance(data, bytes):
            await storage.put(key, data, mime)
        else:
            await storage.put_file(key, data.file, data.size, mime)
    except BaseException:
        if not prepared:
            await quota.release(db, file_id)
        raise
    return await files_store.mark_ready(db, row)
