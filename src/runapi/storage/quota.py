"""Per-account upload limits: bytes held in unexpired uploads (the quota) and uploads / bytes started in the
last minute (the rate). The files table is the count, so the limits hold across processes and nodes: the
check and the insert of the upload's row are one write transaction, serialised per account (SQLite: its
single writer; PostgreSQL: a transaction-scoped advisory lock on the account), and the row itself is the
reservation. A failed write deletes it again.

`limits` (the library) was considered: its exact backends need Redis, which is optional here; the database
is always there and already holds every upload's size and times."""

from __future__ import annotations

import math
import time
import zlib
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from ..store import Database
from ..store.schema import files

WINDOW_SECONDS = 60.0
# rows whose bytes are (or are about to be) on the disk; `uploading`: a multipart upload's declared size
HELD_STATES = ("pending", "uploading", "storing", "ready")
_LOCK_SPACE = zlib.crc32(b"runapi:uploads") & 0x7FFFFFFF  # advisory lock namespace (int4)


@dataclass(frozen=True)
class UploadLimits:
    quota_bytes: int = 0  # 0: no limit
    per_minute: int = 0
    bytes_per_minute: int = 0

    @classmethod
    def from_settings(cls, settings: Any) -> UploadLimits:
        return cls(settings.upload_quota_bytes, settings.uploads_per_minute, settings.upload_bytes_per_minute)


@dataclass(frozen=True)
class Usage:
    held_bytes: int
    recent_count: int
    recent_bytes: int
    oldest_recent: float | None


class UploadRefused(Exception):
    def __init__(self, reason: Literal["rate", "quota"], message: str, retry_after: int | None = None):
        super().__init__(message)
        self.reason, self.message, self.retry_after = reason, message, retry_after


def _mb(n: int) -> str:
    return f"{n / 2**20:g}MB"


async def _usage(conn: AsyncConnection, account_id: int, now: float) -> Usage:
    held = (
        await conn.execute(
            select(func.coalesce(func.sum(files.c.size_bytes), 0)).where(
                files.c.account_id == account_id, files.c.state.in_(HELD_STATES), files.c.expires_at > now
            )
        )
    ).scalar_one()
    count, recent, oldest = (
        await conn.execute(
            select(func.count(), func.coalesce(func.sum(files.c.size_bytes), 0), func.min(files.c.created_at)).where(
                files.c.account_id == account_id, files.c.created_at > now - WINDOW_SECONDS
            )
        )
    ).one()
    return Usage(int(held), int(count), int(recent), oldest)


def _check(usage: Usage, limits: UploadLimits, size: int, now: float) -> None:
    """Refuse when taking `size` more bytes (0: just starting) would go over a limit."""
    retry = max(1, math.ceil((usage.oldest_recent or now) + WINDOW_SECONDS - now))
    if limits.per_minute and usage.recent_count + 1 > limits.per_minute:
        raise UploadRefused("rate", f"Too many uploads: at most {limits.per_minute} per minute", retry)
    if limits.bytes_per_minute and usage.recent_bytes + max(size, 1) > limits.bytes_per_minute:
        if size > limits.bytes_per_minute:  # would never fit in a minute: waiting does not help
            raise UploadRefused(
                "quota", f"File is larger than the upload rate of {_mb(limits.bytes_per_minute)} per minute"
            )
        raise UploadRefused(
            "rate", f"Too many bytes uploaded: at most {_mb(limits.bytes_per_minute)} per minute", retry
        )
    if limits.quota_bytes and usage.held_bytes + max(size, 1) > limits.quota_bytes:
        raise UploadRefused(
            "quota",
            f"Storage quota exceeded: unexpired uploads may hold at most "
            f"{_mb(limits.quota_bytes)}; files expire an hour after upload",
        )


async def precheck(db: Database, account_id: int, limits: UploadLimits) -> None:
    """Before fetching a source (cheap, not exact): refuse an account already at a limit."""
    if not (limits.quota_bytes or limits.per_minute or limits.bytes_per_minute):
        return
    now = time.time()
    async with db.read() as conn:
        usage = await _usage(conn, account_id, now)
    _check(usage, limits, 0, now)


async def reserve(db: Database, row: dict[str, Any], limits: UploadLimits) -> None:
    """Check the limits for this upload and insert its row, as one step per account. Raises UploadRefused."""
    async with db.write() as conn:
        if not db.is_sqlite:  # SQLite writers already take turns (BEGIN IMMEDIATE)
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(:space, :account)"),
                {"space": _LOCK_SPACE, "account": row["account_id"]},
            )
        now = time.time()
        _check(await _usage(conn, row["account_id"], now), limits, row["size_bytes"], now)
        await conn.execute(insert(files).values(**row))


async def release(db: Database, file_id: str) -> None:
    """An upload that could not be stored: its row goes, so it counts against nothing."""
    async with db.write() as conn:
        await conn.execute(delete(files).where(files.c.id == file_id))
