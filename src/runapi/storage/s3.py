"""S3-compatible object storage (AWS S3, MinIO, Ceph, R2, ...) via boto3, run in threads.

Objects are still served through our signed `/files/...` links, so links look the same on every backend and
expire on our terms; the API streams the object from the bucket a chunk at a time (ranged GetObject), or,
with s3_presigned_redirect, sends the client on to a pre-signed GetObject URL."""

from __future__ import annotations

import asyncio
import errno
from collections.abc import AsyncGenerator, Callable, Sequence
from pathlib import Path
from typing import BinaryIO

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from . import READ_CHUNK, ObjectInfo, StorageFull

# Answers meaning "no room" (MinIO answers 507 XMinioStorageFull when its disks are full): a 507 for us too.
_FULL_CODES = {"XMinioStorageFull", "QuotaExceeded", "InsufficientStorage"}
DELETE_BATCH = 1000  # keys per DeleteObjects request: S3's maximum

_MISSING_CODES = ("NoSuchKey", "404")


def _missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in _MISSING_CODES


class S3Storage:
    def __init__(
        self,
        bucket: str | None,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ):
        if not bucket:
            raise ValueError("RUNAPI_S3_BUCKET is required for the s3 storage backend")
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region or "us-east-1",
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 5, "mode": "standard"},
                signature_version="s3v4",  # pre-signed URLs too (else SigV2, which S3 refuses in newer regions)
            ),
        )

    def _key(self, key: str) -> str:
        if ".." in key.split("/") or key.startswith("/"):
            raise ValueError("invalid storage key")
        return self.prefix + key

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await self._send(
            lambda: self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type)
        )

    async def put_file(self, key: str, source: BinaryIO, size: int, content_type: str) -> None:
        # boto3's managed transfer: read in chunks, sent as a multipart upload past its threshold
        await self._send(
            lambda: self.client.upload_fileobj(
                source, self.bucket, self._key(key), ExtraArgs={"ContentType": content_type}
            )
        )

    async def _send(self, call: Callable[[], object]) -> None:
        try:
            await asyncio.to_thread(call)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if (
                error.get("Code") in _FULL_CODES
                or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 507
            ):
                raise StorageFull(errno.ENOSPC, f"object storage is full: {error.get('Code')}") from exc
            raise

    async def read(self, key: str) -> bytes | None:
        def get() -> bytes | None:
            try:
                body: bytes = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
                return body
            except ClientError as exc:
                if _missing(exc):
                    return None
                raise

        try:
            return await asyncio.to_thread(get)
        except ValueError:
            return None

    async def get_path(self, key: str) -> Path | None:
        return None

    async def object_sizes(self) -> dict[str, int]:
        """Every object under the prefix: key (without the prefix) → size in bytes."""

        def listing() -> dict[str, int]:
            sizes: dict[str, int] = {}
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
                for obj in page.get("Contents", []):
                    sizes[str(obj["Key"])[len(self.prefix) :]] = int(obj["Size"])
            return sizes

        return await asyncio.to_thread(listing)

    async def stat(self, key: str) -> ObjectInfo | None:
        def head() -> ObjectInfo | None:
            try:
                got = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            except ClientError as exc:
                if _missing(exc):
                    return None
                raise
            etag = str(got.get("ETag") or "")
            return ObjectInfo(
                size=int(got["ContentLength"]),
                etag=etag if etag.startswith('"') else f'"{etag}"',  # the bucket's: the same from every process
                last_modified=got["LastModified"].timestamp(),
                content_type=got.get("ContentType"),
            )

        try:
            return await asyncio.to_thread(head)
        except ValueError:
            return None

    async def open_range(self, key: str, start: int, end: int) -> AsyncGenerator[bytes, None]:
        """A ranged GetObject whose body is pulled READ_CHUNK at a time in a worker thread (boto3 is blocking);
        the body is closed however the iteration ends, so a client gone mid-download frees the connection."""
        if end <= start:
            return
        got = await asyncio.to_thread(
            self.client.get_object, Bucket=self.bucket, Key=self._key(key), Range=f"bytes={start}-{end - 1}"
        )
        body = got["Body"]
        try:
            left = end - start
            while left > 0:
                chunk: bytes = await asyncio.to_thread(body.read, min(READ_CHUNK, left))
                if not chunk:
                    return
                left -= len(chunk)
                yield chunk
        finally:
            body.close()

    async def presigned_url(self, key: str, seconds: int, content_type: str, disposition: str) -> str | None:
        params = {
            "Bucket": self.bucket,
            "Key": self._key(key),
            # the bucket answers with our type and disposition, not the ones stored with the object
            "ResponseContentType": content_type,
            "ResponseContentDisposition": disposition,
            "ResponseCacheControl": "private, max-age=3600",
        }
        url: str = await asyncio.to_thread(
            self.client.generate_presigned_url, "get_object", Params=params, ExpiresIn=seconds
        )
        return url

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=self._key(key))

    async def delete_many(self, keys: Sequence[str]) -> None:
        """DeleteObjects, up to 1,000 keys a request (S3's limit). A key already gone is no error (S3 answers
        it as deleted); any other per-key error is raised, so the caller's batch runs again later."""
        names = [self._key(k) for k in keys]
        for i in range(0, len(names), DELETE_BATCH):
            chunk = names[i : i + DELETE_BATCH]
            answer = await asyncio.to_thread(
                self.client.delete_objects,
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True},
            )
            failed = [e for e in answer.get("Errors", []) if e.get("Code") != "NoSuchKey"]
            if failed:
                first = failed[0]
                raise OSError(
                    f"S3 DeleteObjects failed for {len(failed)} keys, e.g. {first.get('Key')}: {first.get('Code')}"
                )

    async def keys_under(self, prefix: str) -> list[str]:
        def listed() -> list[str]:
            out: list[str] = []
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self._key(prefix))
            for page in pages:
                out += [o["Key"][len(self.prefix) :] for o in page.get("Contents", [])]
            return out

        return await asyncio.to_thread(listed)
