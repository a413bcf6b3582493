"""Uploaded files' records (the `files` table): rows as frozen `StoredFile` objects, and the state changes of
an upload (pending → storing → ready → deleted). The objects themselves live in storage; the limits an upload
is checked against when its row is first written are `storage/quota.py`."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from ..store import Database
from ..store.schema import files
from .quota import HELD_STATES


@dataclass(frozen=True)
class StoredFile:
    id: str
    account_id: int
    api_key_id: str | None
    key: str | None  # storage key; None until a prepared upload is confirmed
    file_name: str
    size_bytes: int
    mime_type: str | None
    checksum: str | None  # prepared uploads: the base64 MD5 the PUT must match
    state: str  # pending | storing | ready | deleted
    created_at: float
    expires_at: float

    @classmethod
    def from_row(cls, row: Any) -> StoredFile:
        return cls(
            id=row["id"],
            account_id=row["account_id"],
            api_key_id=row["api_key_id"],
            key=row["key"],
            file_name=row["file_name"],
            size_bytes=row["size_bytes"],
            mime_type=row["mime_type"],
            checksum=row.get("checksum"),
            state=row["state"],
            created_at=row["created_at"],
            expires_at=row["expires_at"],
        )


async def mark_ready(db: Database, row: dict[str, Any]) -> StoredFile:
    """Record a stored upload (its row was reserved by `quota.reserve`) with its final columns."""
    row = {**row, "state": "ready"}
    async with db.write() as conn:
        await conn.execute(update(files).where(files.c.id == row["id"]).values(**row))
    return StoredFile.from_row(row)


async def pending_upload(db: Database, file_id: str, account_id: int | None = None) -> StoredFile | None:
    """A prepared upload not yet confirmed (of this account, when given)."""
    q = select(files).where(files.c.id == file_id, files.c.state == "pending")
    if account_id is not None:
        q = q.where(files.c.account_id == account_id)
    async with db.read() as conn:
        row = (await conn.execute(q)).mappings().first()
    return StoredFile.from_row(row) if row else None


async def upload_type(db: Database, file_id: str, key: str) -> str | None:
    """The type sniffed from an upload's bytes when it was stored (None: no such upload at that key)."""
    async with db.read() as conn:
        mime = (
            await conn.execute(select(files.c.mime_type).where(files.c.id == file_id, files.c.key == key))
        ).scalar_one_or_none()
    return mime


async def expired(db: Database, limit: int = 500, now: float | None = None) -> list[StoredFile]:
    """Files still held (stored or pending) past their expiry, oldest batch first."""
    now = time.time() if now is None else now
    async with db.read() as conn:
        rows = (
            (
                await conn.execute(
                    select(files).where(files.c.state.in_(HELD_STATES), files.c.expires_at < now).limit(limit)
                )
            )
            .mappings()
            .all()
        )
    return [StoredFile.from_row(r) for r in rows]


async def mark_deleted(db: Database, file_id: str) -> None:
    async with db.write() as conn:
        await conn.execute(update(files).where(files.c.id == file_id).values(state="deleted"))
