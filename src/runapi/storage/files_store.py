"""Uploaded files' records (the `files` table): rows as frozen `StoredFile` objects, the state changes of an
upload (pending or uploading → storing → ready → deleted), and what an account sees of its ready files (one
by id, a page of them, deleting one). The objects themselves live in storage; the limits an upload is checked
against when its row is first written are `storage/quota.py`."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select, update

from ..store import Database
from ..store.pages import PageRequest, read_page
from ..store.schema import file_upload_parts, file_uploads, files
from . import Storage
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
    state: str  # pending | uploading | storing | ready | deleted
    created_at: float
    expires_at: float
    purpose: str | None = None  # given at /v1/files or /v1/uploads; None: uploaded through /api/v1/files

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
            purpose=row.get("purpose"),
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


def _visible(account_id: int) -> list[ColumnElement[bool]]:
    """An account's files it can use: stored, and not yet expired (the expiry job may not have run yet)."""
    return [files.c.account_id == account_id, files.c.state == "ready"]


async def find_ready(db: Database, account_id: int, file_id: str, now: float | None = None) -> StoredFile | None:
    """This account's stored, unexpired file with this id (another account's id is no file of this one)."""
    now = time.time() if now is None else now
    async with db.read() as conn:
        row = (
            (
                await conn.execute(
                    select(files).where(files.c.id == file_id, files.c.expires_at > now, *_visible(account_id))
                )
            )
            .mappings()
            .first()
        )
    return StoredFile.from_row(row) if row else None


async def find_ready_many(db: Database, account_id: int, file_ids: set[str]) -> dict[str, StoredFile]:
    """Those of these ids that are this account's stored, unexpired files, by id."""
    async with db.read() as conn:
        rows = (
            (
                await conn.execute(
                    select(files).where(
                        files.c.id.in_(sorted(file_ids)), files.c.expires_at > time.time(), *_visible(account_id)
                    )
                )
            )
            .mappings()
            .all()
        )
    return {r["id"]: StoredFile.from_row(r) for r in rows}


async def list_ready(
    db: Database, account_id: int, page: PageRequest, purpose: str | None = None
) -> tuple[list[StoredFile], bool]:
    """A page of the account's stored, unexpired files (store/pages.py's cursor pagination) and whether more
    follow. Files uploaded through /api/v1/files count as purpose user_data."""
    filters = [files.c.expires_at > time.time()]
    if purpose == "user_data":
        filters.append((files.c.purpose == purpose) | files.c.purpose.is_(None))
    elif purpose is not None:
        filters.append(files.c.purpose == purpose)
    scope = _visible(account_id)
    async with db.read() as conn:
        found = await read_page(conn, files, and_(*scope), filters, page)
    return [StoredFile.from_row(r._mapping) for r in found.rows], found.has_more


async def delete_ready(db: Database, storage: Storage, account_id: int, file_id: str) -> bool:
    """Delete this account's file: the row first (so it stops being served and counted), then the object.
    False if it has no such file."""
    async with db.write() as conn:
        row = (
            (
                await conn.execute(
                    select(files.c.key).where(files.c.id == file_id, *_visible(account_id)).with_for_update()
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return False
        await conn.execute(update(files).where(files.c.id == file_id).values(state="deleted"))
    if row["key"]:
        await storage.delete(row["key"])
    return True


async def usage_by_account(db: Database) -> list[tuple[int, str, int, int]]:
    """Stored files per account and kind: (account_id, kind, files, bytes). Kinds: `uploads` (POST
    /api/v1/files and prepared uploads), `openai_files` (/v1/files and completed /v1/uploads, any purpose) and
    `upload_parts` (parts of multipart uploads not completed yet)."""
    kind = case((files.c.purpose.is_(None), "uploads"), else_="openai_files")
    async with db.read() as conn:
        stored = (
            await conn.execute(
                select(files.c.account_id, kind, func.count(), func.coalesce(func.sum(files.c.size_bytes), 0))
                .where(files.c.state == "ready")
                .group_by(files.c.account_id, kind)
            )
        ).all()
        parts = (
            await conn.execute(
                select(
                    file_uploads.c.account_id,
                    func.count(),
                    func.coalesce(func.sum(file_upload_parts.c.size_bytes), 0),
                )
                .join(file_uploads, file_uploads.c.id == file_upload_parts.c.upload_id)
                .group_by(file_uploads.c.account_id)
            )
        ).all()
    out = [(r[0], str(r[1]), int(r[2]), int(r[3])) for r in stored]
    out += [(r[0], "upload_parts", int(r[1]), int(r[2])) for r in parts]
    return sorted(out)
