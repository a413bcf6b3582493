"""Object storage behind one interface, with expiring signed URLs served by the API (`/files/...`)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import errno
import hashlib
import hmac
import os
import shutil
import tempfile
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol
from urllib.parse import quote, urlencode

if TYPE_CHECKING:
    from ..settings import Settings

FILES_PREFIX = "/files/"
_COPY_CHUNK = 1024 * 1024
READ_CHUNK = 256 * 1024  # what a streamed read pulls (and holds) at a time, whatever the object's size
_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


class StorageFull(OSError):
    """The backend has no room for the object (disk full, quota, or below the free-space floor): a 507,
    not a 500. Nothing of the object is left behind."""


def _write_all(f: BinaryIO, data: bytes) -> None:
    f.write(data)


@dataclass(frozen=True)
class ObjectInfo:
    """What a stored object is, without its bytes: enough to answer conditional and range requests."""

    size: int
    etag: str  # strong entity tag, quoted; the same in every process and after a restart while the object is
    last_modified: float  # epoch seconds
    content_type: str | None = None  # as the backend records it (None on local disk)


class Storage(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> None: ...
    async def put_file(self, key: str, source: BinaryIO, size: int, content_type: str) -> None:
        """Store `size` bytes read from `source` (from its current position) without holding them all in
        memory: what a spooled request part or an assembled upload is written with."""

    async def read(self, key: str) -> bytes | None: ...
    async def get_path(self, key: str) -> Path | None:
        """A local file for the object, when the backend has one; else None. (Serving streams through
        open_range on every backend, so local disk and S3 answer alike.)"""

    async def stat(self, key: str) -> ObjectInfo | None:
        """The object's size and validators; None when there is no such object."""

    def open_range(self, key: str, start: int, end: int) -> AsyncGenerator[bytes, None]:
        """Bytes [start, end) of the object, at most READ_CHUNK at a time, read off the event loop. Close the
        iterator (aclose) when stopping early: that releases the file or connection behind it."""

    async def presigned_url(self, key: str, seconds: int, content_type: str, disposition: str) -> str | None:
        """A URL the backend itself serves the object at for `seconds`, answering with these Content-Type and
        Content-Disposition; None when the backend has no such URLs (local disk)."""

    async def delete(self, key: str) -> None: ...
    async def delete_many(self, keys: Sequence[str]) -> None:
        """Delete these objects (any that are already gone are no error: deletes are idempotent)."""

    async def keys_under(self, prefix: str) -> list[str]:
        """The keys of the objects under `prefix` (a folder: ends with "/")."""


class LocalStorage:
    """Objects as files under one directory; written via a temp file + rename, so a reader never sees half,
    and the temp file is removed when the write fails. Writes that would leave less than `min_free_bytes`
    free on the disk are refused (StorageFull)."""

    def __init__(self, root: Path, min_free_bytes: int = 0):
        self.root = root
        self.min_free_bytes = min_free_bytes
        self.root.mkdir(parents=True, exist_ok=True)

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.root).free

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root not in path.parents:
            raise ValueError("invalid storage key")
        return path

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._put, self._path(key), data)  # a 50 MB write must not stall the loop

    def _put(self, path: Path, data: bytes) -> None:
        if self.min_free_bytes and self.free_bytes() - len(data) < self.min_free_bytes:
            raise StorageFull(errno.ENOSPC, "storage is below its free-space floor")
        self._write_via_temp(path, lambda f: _write_all(f, data))

    def _write_via_temp(self, path: Path, write: Callable[[BinaryIO], object]) -> None:
        tmp = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as f:
                write(f)
            os.replace(tmp, path)
        except BaseException as exc:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS and not isinstance(exc, StorageFull):
                raise StorageFull(exc.errno, os.strerror(exc.errno)) from exc
            raise

    async def put_file(self, key: str, source: BinaryIO, size: int, content_type: str) -> None:
        await asyncio.to_thread(self._put_file, self._path(key), source, size)

    def _put_file(self, path: Path, source: BinaryIO, size: int) -> None:
        if self.min_free_bytes and self.free_bytes() - size < self.min_free_bytes:
            raise StorageFull(errno.ENOSPC, "storage is below its free-space floor")
        self._write_via_temp(path, lambda f: shutil.copyfileobj(source, f, _COPY_CHUNK))

    async def get_path(self, key: str) -> Path | None:
        try:
            path = self._path(key)
        except ValueError:
            return None
        return path if path.is_file() else None

    async def read(self, key: str) -> bytes | None:
        path = await self.get_path(key)
        return path.read_bytes() if path else None

    async def stat(self, key: str) -> ObjectInfo | None:
        path = await self.get_path(key)
        if path is None:
            return None
        try:
            st = await asyncio.to_thread(path.stat)
        except FileNotFoundError:  # deleted since
            return None
        # size and mtime in ns: what any process sees of the same file; a rewrite (temp file + rename) changes them
        return ObjectInfo(st.st_size, f'"{st.st_size:x}-{st.st_mtime_ns:x}"', st.st_mtime)

    async def open_range(self, key: str, start: int, end: int) -> AsyncGenerator[bytes, None]:
        f = await asyncio.to_thread(open, self._path(key), "rb")
        try:
            await asyncio.to_thread(f.seek, start)
            left = end - start
            while left > 0:
                chunk = await asyncio.to_thread(f.read, min(READ_CHUNK, left))
                if not chunk:  # truncated since its size was read: the answer ends short, the client sees it
                    return
                left -= len(chunk)
                yield chunk
        finally:
            f.close()

    async def presigned_url(self, key: str, seconds: int, content_type: str, disposition: str) -> str | None:
        return None

    async def delete(self, key: str) -> None:
        path = self._path(key)
        path.unlink(missing_ok=True)

    async def delete_many(self, keys: Sequence[str]) -> None:
        await asyncio.to_thread(self._delete_many, [self._path(k) for k in keys])

    def _delete_many(self, paths: list[Path]) -> None:
        for path in paths:
            path.unlink(missing_ok=True)
            # an emptied folder goes too (generated/<task id>/), so the tree does not fill with empty folders
            with contextlib.suppress(OSError):
                if path.parent != self.root:
                    path.parent.rmdir()

    async def keys_under(self, prefix: str) -> list[str]:
        folder = self._path(prefix.rstrip("/"))
        return await asyncio.to_thread(self._keys_under, folder)

    def _keys_under(self, folder: Path) -> list[str]:
        if not folder.is_dir():
            return []
        return sorted(p.relative_to(self.root).as_posix() for p in folder.rglob("*") if p.is_file())


def make_storage(settings: Settings) -> Storage:
    if settings.storage_backend == "s3":
        from .s3 import S3Storage

        return S3Storage(
            bucket=settings.s3_bucket,
            prefix=settings.s3_prefix,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
        )
    return LocalStorage(settings.resolved_storage_dir, settings.storage_min_free_bytes)


def parse_expires(value: str | None) -> int | None:
    """The `expires` of a signed URL as epoch seconds, or None if it is not one: ASCII digits, at most 19 (what
    we sign fits in 64 bits; a longer number could only be forged, and past 4,300 digits int() raises)."""
    if not value or len(value) > 19 or not (value.isascii() and value.isdigit()):
        return None
    return int(value)


class UrlSigner:
    """`{base}/files/{key}?expires=...&signature=...`; HMAC-SHA256 over key and expiry with the server secret.
    With `files_url` (RUNAPI_FILES_URL) every link goes to that origin instead of the caller's base; the
    signature does not cover the host, so the files origin (the same server behind another name) verifies it."""

    def __init__(self, secret: bytes, files_url: str | None = None):
        self.secret = secret
        self.files_url = files_url.rstrip("/") if files_url else None

    def sign(self, *parts: object) -> str:
        """URL-safe HMAC-SHA256 of the parts joined by newlines (other pre-signed URLs use it too)."""
        mac = hmac.new(self.secret, "\n".join(map(str, parts)).encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def _signature(self, key: str, expires: int) -> str:
        return self.sign(key, expires)

    def url(self, base_url: str, key: str, expires: int) -> str:
        query = urlencode({"expires": expires, "signature": self._signature(key, expires)})
        return f"{self.unsigned(base_url, key)}?{query}"

    def unsigned(self, base_url: str, key: str) -> str:
        """The object's address without a signature: it serves nothing (what an expired file's link becomes)."""
        return f"{(self.files_url or base_url).rstrip('/')}{FILES_PREFIX}{quote(key)}"

    def verify(self, key: str, expires: str | None, signature: str | None, now: float | None = None) -> bool:
        at = parse_expires(expires)
        if at is None or not signature:
            return False
        if at < (now if now is not None else time.time()):
            return False
        # as bytes: compare_digest refuses str with non-ASCII characters (a client's signature may have them)
        return hmac.compare_digest(self._signature(key, at).encode(), signature.encode())
