"""Copy a local file store into S3-compatible storage (`runapi admin migrate --storage-to s3://…`).

Every object under the local root goes to the bucket under the same key (the storage's .tmp- files, objects
still being written, are skipped), streamed from disk; then the bucket's listing is compared with the local
files, key by key and size by size. Uploading a key again overwrites it with the same bytes, so a copy that
failed half-way is simply run again."""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:  # boto3 is the optional s3 extra: only a copy to S3 imports it
    from .s3 import S3Storage


@dataclass(frozen=True)
class ObjectCopyReport:
    objects: int
    bytes: int
    missing: tuple[str, ...]  # keys not in the bucket (or of another size) after the copy


def parse_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket/prefix` → (bucket, prefix)."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"--storage-to must look like s3://bucket/prefix, not {url!r}")
    return parts.netloc, parts.path.strip("/")


def local_objects(root: Path) -> dict[str, Path]:
    """The stored objects under `root`, by key."""
    if not root.is_dir():
        return {}
    return {
        path.relative_to(root).as_posix(): path
        for path in sorted(root.rglob("*"))
        if path.is_file() and not path.name.startswith(".tmp-")
    }


async def copy_to_s3(root: Path, target: S3Storage, progress: Callable[[str], None]) -> ObjectCopyReport:
    objects = local_objects(root)
    sizes: dict[str, int] = {}
    for n, (key, path) in enumerate(objects.items(), 1):
        try:
            with path.open("rb") as f:
                size = path.stat().st_size
                await target.put_file(key, f, size, mimetypes.guess_type(key)[0] or "application/octet-stream")
        except FileNotFoundError:  # deleted (expired) while we copied
            continue
        sizes[key] = size
        if n % 100 == 0 or n == len(objects):
            progress(f"objects: {n}/{len(objects)}")
    stored = await target.object_sizes()
    missing = tuple(key for key, size in sizes.items() if stored.get(key) != size)
    return ObjectCopyReport(len(sizes), sum(sizes.values()), missing)
