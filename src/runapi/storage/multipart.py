"""Multipart uploads (OpenAI's Uploads API): create one declaring the file's size, add its parts one request at
a time, then complete it into a file, or cancel it. Everything here is per account: another account's upload
is no upload of this one.

Creating an upload reserves the file's row (state `uploading`) for its declared size against the account's
upload limits, like a prepared direct upload, so parts on the disk are always within what the limits allow.
Each part is written to storage as it arrives (its row, and its share of the declared size, reserved first in
the same transaction that checks the upload is still open). Completing assembles the named parts, in order,
into a temporary file (one part in memory at most), and stores that through the one path every upload takes
(storage/uploads.py: sniffed, named, marked ready). Cancelling, completing and expiry discard the parts."""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, BinaryIO

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import BadRequest, Conflict, NotFound
from ..store import Database
from ..store.schema import file_upload_parts, file_uploads, files
from . import Storage, files_store, quota
from .files_store import StoredFile
from .upload_rules import (
    LIFETIME_SECONDS,
    Declared,
    Received,
    UploadStatus,
    check_part,
    part_order,
    same_order,
)
from .uploads import Spooled, new_file_id, store_upload

# A completion under way when its upload's hour ends is left this long to finish before expiry discards it.
COMPLETION_GRACE_SECONDS = 600
EXPIRY_BATCH = 200
OCTET = "application/octet-stream"


@dataclass(frozen=True)
class Upload:
    id: str
    account_id: int
    api_key_id: str | None
    file_id: str  # the files row reserved for the result (ready once completed)
    filename: str
    purpose: str
    mime_type: str
    bytes: int
    received_bytes: int
    part_count: int
    status: UploadStatus
    part_ids: tuple[str, ...] | None
    created_at: float
    expires_at: float

    @classmethod
    def from_row(cls, row: Any) -> Upload:
        ids = row["part_ids"]
        return cls(
            id=row["id"],
            account_id=row["account_id"],
            api_key_id=row["api_key_id"],
            file_id=row["file_id"],
            filename=row["filename"],
            purpose=row["purpose"],
            mime_type=row["mime_type"],
            bytes=row["bytes"],
            received_bytes=row["received_bytes"],
            part_count=row["part_count"],
            status=UploadStatus(row["status"]),
            part_ids=tuple(ids) if ids is not None else None,
            created_at=row["created_at"],
            expires_at=row["expires_at"],
        )

    def as_of(self, now: float) -> Upload:
        """The upload as a client sees it now: a pending one past its hour is expired (the expiry job may not
        have discarded it yet)."""
        if self.status is UploadStatus.PENDING and now >= self.expires_at:
            return replace(self, status=UploadStatus.EXPIRED)
        return self


@dataclass(frozen=True)
class Part:
    id: str
    upload_id: str
    size_bytes: int
    created_at: float


@dataclass(frozen=True)
class Completed:
    upload: Upload
    file: StoredFile | None  # None only for a retried completion whose file has since been deleted or expired


def upload_not_found(upload_id: str) -> NotFound:
    return NotFound(f"No upload with id {upload_id!r}", code="upload_not_found")


def _closed(upload: Upload, doing: str) -> BadRequest:
    if upload.status is UploadStatus.EXPIRED:
        return BadRequest(
            f"Upload {upload.id} has expired (an upload must be completed within an hour of its creation)",
            code="upload_expired",
        )
    return BadRequest(f"Cannot {doing}: upload {upload.id} is {upload.status.value}", code=f"upload_{upload.status}")


def part_key(upload: Upload, part_id: str) -> str:
    return f"upload-parts/{upload.account_id}/{upload.id}/{part_id}"


async def _locked(conn: AsyncConnection, account_id: int, upload_id: str) -> Upload:
    """The account's upload, its row locked for this transaction (PostgreSQL; SQLite's writers take turns)."""
    row = (
        (
            await conn.execute(
                select(file_uploads)
                .where(file_uploads.c.id == upload_id, file_uploads.c.account_id == account_id)
                .with_for_update()
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise upload_not_found(upload_id)
    return Upload.from_row(row).as_of(time.time())


async def open_upload(db: Database, account_id: int, upload_id: str) -> Upload:
    """The account's upload if it still takes parts (a quick look, before a part's body is read)."""
    async with db.read() as conn:
        row = (
            (
                await conn.execute(
                    select(file_uploads).where(file_uploads.c.id == upload_id, file_uploads.c.account_id == account_id)
                )
            )
            .mappings()
            .first()
        )
    if row is None:
        raise upload_not_found(upload_id)
    upload = Upload.from_row(row).as_of(time.time())
    if upload.status is not UploadStatus.PENDING:
        raise _closed(upload, "add a part")
    return upload


async def create_upload(
    db: Database, limits: quota.UploadLimits, account_id: int, api_key_id: str | None, declared: Declared
) -> Upload:
    """Reserve the file's row for the declared size (raises quota.UploadRefused) and open the upload."""
    now = time.time()
    file_id = new_file_id()
    await quota.reserve(
        db,
        {
            "id": file_id,
            "account_id": account_id,
            "api_key_id": api_key_id,
            "key": None,
            "file_name": declared.filename[:255],
            "size_bytes": declared.bytes,
            "state": "uploading",
            "created_at": now,
            # held until the upload is completed (the file then gets its own hour), cancelled or expired
            "expires_at": now + LIFETIME_SECONDS + COMPLETION_GRACE_SECONDS,
            "purpose": declared.purpose,
        },
        limits,
    )
    row: dict[str, Any] = {
        "id": f"upload_{uuid.uuid4().hex}",
        "account_id": account_id,
        "api_key_id": api_key_id,
        "file_id": file_id,
        "filename": declared.filename,
        "purpose": declared.purpose,
        "mime_type": declared.mime_type,
        "bytes": declared.bytes,
        "received_bytes": 0,
        "part_count": 0,
        "status": UploadStatus.PENDING.value,
        "part_ids": None,
        "created_at": now,
        "expires_at": now + LIFETIME_SECONDS,
    }
    try:
        async with db.write() as conn:
            await conn.execute(insert(file_uploads).values(**row))
    except BaseException:
        await quota.release(db, file_id)
        raise
    return Upload.from_row(row)


async def add_part(db: Database, storage: Storage, account_id: int, upload_id: str, data: Spooled) -> Part:
    """Store one part: its share of the declared size reserved first (refused past it), then its bytes."""
    now = time.time()
    part = Part(f"part_{uuid.uuid4().hex}", upload_id, data.size, now)
    async with db.write() as conn:
        upload = await _locked(conn, account_id, upload_id)
        if upload.status is not UploadStatus.PENDING:
            raise _closed(upload, "add a part")
        check_part(Received(upload.bytes, upload.received_bytes, upload.part_count), data.size)
        await conn.execute(
            insert(file_upload_parts).values(
                id=part.id, upload_id=upload_id, size_bytes=data.size, state="storing", created_at=now
            )
        )
        await _count(conn, upload_id, data.size, 1)
    try:
        await storage.put_file(part_key(upload, part.id), data.file, data.size, OCTET)
    except BaseException:
        async with db.write() as conn:
            await conn.execute(delete(file_upload_parts).where(file_upload_parts.c.id == part.id))
            await _count(conn, upload_id, -data.size, -1)
        raise
    async with db.write() as conn:
        await conn.execute(update(file_upload_parts).where(file_upload_parts.c.id == part.id).values(state="stored"))
    return part


async def _count(conn: AsyncConnection, upload_id: str, size: int, parts: int) -> None:
    await conn.execute(
        update(file_uploads)
        .where(file_uploads.c.id == upload_id)
        .values(
            received_bytes=file_uploads.c.received_bytes + size,
            part_count=file_uploads.c.part_count + parts,
        )
    )


async def _set_status(db: Database, upload_id: str, status: UploadStatus, **values: Any) -> None:
    async with db.write() as conn:
        await conn.execute(
            update(file_uploads).where(file_uploads.c.id == upload_id).values(status=status.value, **values)
        )


async def complete_upload(
    db: Database,
    storage: Storage,
    limits: quota.UploadLimits,
    account_id: int,
    upload_id: str,
    part_ids: Any,
    md5: str | None = None,
) -> Completed:
    """Assemble the parts named, in that order, into the upload's file (sniffed and stored like any upload:
    raises uploads.UnsupportedType, StorageFull). A refused completion leaves the upload pending, to be
    completed again or cancelled. The same completion sent again answers with the same file."""
    async with db.write() as conn:
        upload = await _locked(conn, account_id, upload_id)
        retried = upload.status is UploadStatus.COMPLETED and same_order(upload.part_ids, part_ids)
        order = [] if retried else await _start_completion(conn, upload, part_ids)
    if retried:
        return Completed(upload, await files_store.find_ready(db, account_id, upload.file_id))
    try:
        with tempfile.TemporaryFile() as assembled:
            digest = await _assemble(storage, upload, order, assembled)
            if md5 is not None and md5.lower() != digest:
                raise BadRequest("md5 does not match the parts listed", code="checksum_mismatch")
            stored_file = await store_upload(
                db,
                storage,
                limits,
                account_id,
                upload.api_key_id,
                Spooled(assembled, upload.bytes),
                upload.filename,
                file_id=upload.file_id,
                purpose=upload.purpose,
            )
    except BaseException:
        await _set_status(db, upload_id, UploadStatus.PENDING)
        raise
    await _set_status(db, upload_id, UploadStatus.COMPLETED, part_ids=order)
    await _discard_parts(db, storage, upload)
    return Completed(replace(upload, status=UploadStatus.COMPLETED, part_ids=tuple(order)), stored_file)


async def _start_completion(conn: AsyncConnection, upload: Upload, part_ids: Any) -> list[str]:
    """Check the part list against the stored parts and mark the upload as being completed (parts, cancels and
    other completions are refused until the outcome); the parts' order."""
    if upload.status is UploadStatus.COMPLETING:
        raise Conflict(f"Upload {upload.id} is being completed", code="upload_completing")
    if upload.status is not UploadStatus.PENDING:
        raise _closed(upload, "complete")
    stored = (
        await conn.execute(
            select(file_upload_parts.c.id, file_upload_parts.c.size_bytes).where(
                file_upload_parts.c.upload_id == upload.id, file_upload_parts.c.state == "stored"
            )
        )
    ).all()
    order = part_order(part_ids, {r.id: r.size_bytes for r in stored}, upload.bytes)
    await conn.execute(
        update(file_uploads).where(file_uploads.c.id == upload.id).values(status=UploadStatus.COMPLETING.value)
    )
    return order


async def _assemble(storage: Storage, upload: Upload, order: Sequence[str], out: BinaryIO) -> str:
    """Copy the parts into `out` in order (a local part file by file, else one part's bytes at a time); the MD5
    of the whole, hex."""
    digest = hashlib.md5(usedforsecurity=False)
    for part_id in order:
        key = part_key(upload, part_id)
        path = await storage.get_path(key)
        if path is not None:
            await asyncio.to_thread(_copy_file, path, out, digest)
            continue
        data = await storage.read(key)
        if data is None:
            raise RuntimeError(f"part {part_id} of upload {upload.id} is missing from storage")
        digest.update(data)
        await asyncio.to_thread(out.write, data)
    out.flush()
    out.seek(0)
    return digest.hexdigest()


def _copy_file(path: Any, out: BinaryIO, digest: Any) -> None:
    with open(path, "rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
            out.write(chunk)


async def cancel_upload(db: Database, storage: Storage, account_id: int, upload_id: str) -> Upload:
    """Cancel a pending upload: its parts are discarded and its reserved size released. Cancelling again
    answers with the cancelled upload."""
    async with db.write() as conn:
        upload = await _locked(conn, account_id, upload_id)
        if upload.status is UploadStatus.CANCELLED:
            return upload
        if upload.status is UploadStatus.COMPLETING:
            raise Conflict(f"Upload {upload.id} is being completed", code="upload_completing")
        if upload.status is not UploadStatus.PENDING:
            raise _closed(upload, "cancel")
        await conn.execute(
            update(file_uploads).where(file_uploads.c.id == upload_id).values(status=UploadStatus.CANCELLED.value)
        )
        await _release_file(conn, upload.file_id)
    await _discard_parts(db, storage, upload)
    return replace(upload, status=UploadStatus.CANCELLED)


async def _release_file(conn: AsyncConnection, file_id: str) -> None:
    """The reserved file row of an upload that will not complete stops counting against the limits."""
    await conn.execute(update(files).where(files.c.id == file_id, files.c.state == "uploading").values(state="deleted"))


async def _discard_parts(db: Database, storage: Storage, upload: Upload) -> None:
    async with db.read() as conn:
        ids = (
            await conn.execute(select(file_upload_parts.c.id).where(file_upload_parts.c.upload_id == upload.id))
        ).scalars()
        part_ids = list(ids)
    for part_id in part_ids:
        await storage.delete(part_key(upload, part_id))
    async with db.write() as conn:
        await conn.execute(delete(file_upload_parts).where(file_upload_parts.c.upload_id == upload.id))


async def expire_uploads(db: Database, storage: Storage, now: float | None = None) -> int:
    """Uploads past their hour (a completion under way gets a grace period) become expired: parts discarded,
    reservation released. Returns how many."""
    now = time.time() if now is None else now
    due = or_(
        (file_uploads.c.status == UploadStatus.PENDING.value) & (file_uploads.c.expires_at <= now),
        (file_uploads.c.status == UploadStatus.COMPLETING.value)
        & (file_uploads.c.expires_at <= now - COMPLETION_GRACE_SECONDS),
    )
    async with db.read() as conn:
        rows = (await conn.execute(select(file_uploads).where(due).limit(EXPIRY_BATCH))).mappings().all()
    gone = 0
    for row in rows:
        upload = Upload.from_row(row)
        async with db.write() as conn:
            changed = await conn.execute(
                update(file_uploads)
                .where(file_uploads.c.id == upload.id, file_uploads.c.status == upload.status.value)
                .values(status=UploadStatus.EXPIRED.value)
            )
            if not changed.rowcount:
                continue  # completed or cancelled meanwhile
            await _release_file(conn, upload.file_id)
        await _discard_parts(db, storage, upload)
        gone += 1
    return gone
