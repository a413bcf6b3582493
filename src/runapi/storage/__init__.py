"""Object storage behind one interface, with expiring signed URLs served by the API (`/files/...`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import tempfile
import time
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, urlencode

FILES_PREFIX = "/files/"


class Storage(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> None: ...
    async def read(self, key: str) -> bytes | None: ...
    async def get_path(self, key: str) -> Path | None:
        """A local file for the object, when the backend has one (served with sendfile); else None."""
    async def delete(self, key: str) -> None: ...


class LocalStorage:
    """Objects as files under one directory; written via a temp file + rename, so a reader never sees half."""

    def __init__(self, root: Path):
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root not in path.parents:
            raise ValueError("invalid storage key")
        return path

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)

    async def get_path(self, key: str) -> Path | None:
        try:
            path = self._path(key)
        except ValueError:
            return None
        return path if path.is_file() else None

    async def read(self, key: str) -> bytes | None:
        path = await self.get_path(key)
        return path.read_bytes() if path else None

    async def delete(self, key: str) -> None:
        path = self._path(key)
        path.unlink(missing_ok=True)


def make_storage(settings) -> Storage:  # noqa: ANN001
    if settings.storage_backend == "s3":
        from .s3 import S3Storage

        return S3Storage(bucket=settings.s3_bucket, prefix=settings.s3_prefix, endpoint_url=settings.s3_endpoint_url,
                         region=settings.s3_region, access_key_id=settings.s3_access_key_id,
                         secret_access_key=settings.s3_secret_access_key)
    return LocalStorage(settings.resolved_storage_dir)


def parse_expires(value: str | None) -> int | None:
    """The `expires` of a signed URL as epoch seconds, or None if it is not one: ASCII digits, at most 19 (what
    we sign fits in 64 bits; a longer number could only be forged, and past 4,300 digits int() raises)."""
    if not value or len(value) > 19 or not (value.isascii() and value.isdigit()):
        return None
    return int(value)


class UrlSigner:
    """`{base}/files/{key}?expires=...&signature=...`; HMAC-SHA256 over key and expiry with the server secret."""

    def __init__(self, secret: bytes):
        self.secret = secret

    def sign(self, *parts: object) -> str:
        """URL-safe HMAC-SHA256 of the parts joined by newlines (other pre-signed URLs use it too)."""
        mac = hmac.new(self.secret, "\n".join(map(str, parts)).encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def _signature(self, key: str, expires: int) -> str:
        return self.sign(key, expires)

    def url(self, base_url: str, key: str, expires: int) -> str:
        query = urlencode({"expires": expires, "signature": self._signature(key, expires)})
        return f"{base_url.rstrip('/')}{FILES_PREFIX}{quote(key)}?{query}"

    def verify(self, key: str, expires: str | None, signature: str | None, now: float | None = None) -> bool:
        at = parse_expires(expires)
        if at is None or not signature:
            return False
        if at < (now if now is not None else time.time()):
            return False
        # as bytes: compare_digest refuses str with non-ASCII characters (a client's signature may have them)
        return hmac.compare_digest(self._signature(key, at).encode(), signature.encode())
