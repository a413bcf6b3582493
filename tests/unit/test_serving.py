"""Serving stored objects (api/serving.py): Range parsing as RFC 9110 has it, conditional requests, HEAD, the
same answers from local disk and S3 (moto, in-process), and streaming that never reads an object whole."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncGenerator, Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from runapi.api.serving import ByteRange, ObjectResponse, Unsatisfiable, parse_range, presigned_redirect, serve_object
from runapi.errors import ApiError
from runapi.storage import READ_CHUNK, LocalStorage, ObjectInfo, Storage

moto = pytest.importorskip("moto")

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Content-Disposition": "inline; filename*=UTF-8''a.bin",
}
DATA = os.urandom(1000)
KEY = "generated/t1/0.bin"


# --------------------------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-", ByteRange(0, 1000)),
        ("bytes=100-199", ByteRange(100, 200)),
        ("bytes=900-5000", ByteRange(900, 1000)),  # clipped to the object
        ("bytes=-100", ByteRange(900, 1000)),
        ("bytes=-5000", ByteRange(0, 1000)),
        ("BYTES = 5-5", ByteRange(5, 6)),
        ("bytes=0-99999999999999999999999999999", ByteRange(0, 1000)),
    ],
)
def test_single_ranges(header: str, expected: ByteRange) -> None:
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize(
    "header",
    [
        "bytes=abc",
        "bytes=5-1",
        "bytes=-",
        "bytes=",
        "bytes",
        "items=0-5",
        "bytes=0x10-20",
        "bytes=+1-2",
        "bytes=1-2-3",
        "bytes=0-1,5-9",  # several ranges: the whole object (no multipart answers)
        "bytes=٣-٤",  # non-ASCII digits
        "",
    ],
)
def test_invalid_or_multiple_ranges_are_ignored(header: str) -> None:
    assert parse_range(header, 1000) is None


@pytest.mark.parametrize(
    "header", ["bytes=1000-", "bytes=5000-6000", "bytes=-0", "bytes=99999999999999999999-", "bytes=" + "9" * 5000 + "-"]
)
def test_ranges_past_the_end_are_unsatisfiable(header: str) -> None:
    with pytest.raises(Unsatisfiable):
        parse_range(header, 1000)


def test_an_empty_object_has_no_bytes_to_range() -> None:
    with pytest.raises(Unsatisfiable):
        parse_range("bytes=0-", 0)
    assert parse_range("bytes=-5", 0) is None  # the whole (empty) object


# ------------------------------------------------------------------------------------------ over HTTP


def app_for(storage: Storage, media_type: str = "video/mp4") -> TestClient:
    async def serve(request: Request) -> Response:
        try:
            return await serve_object(
                request, storage, request.path_params["key"], media_type, HEADERS, ApiError(404, "gone")
            )
        except ApiError as exc:
            return Response(exc.message, status_code=exc.status, headers=exc.headers)

    return TestClient(Starlette(routes=[Route("/o/{key:path}", serve, methods=["GET", "HEAD"])]))


@pytest.fixture
def local(tmp_path: Path) -> TestClient:
    storage = LocalStorage(tmp_path)
    asyncio.run(storage.put(KEY, DATA, "video/mp4"))
    return app_for(storage)


@pytest.fixture
def s3() -> Iterator[tuple[TestClient, Any]]:
    from runapi.storage.s3 import S3Storage

    with moto.mock_aws():
        storage = S3Storage("runapi-unit", prefix="p", access_key_id="test", secret_access_key="test")
        storage.client.create_bucket(Bucket="runapi-unit")
        asyncio.run(storage.put(KEY, DATA, "application/octet-stream"))
        yield app_for(storage), storage


@pytest.fixture(params=["local", "s3"])
def client(request: pytest.FixtureRequest) -> TestClient:
    if request.param == "local":
        return request.getfixturevalue("local")
    return request.getfixturevalue("s3")[0]


def secured(resp: Any) -> None:
    for name, value in HEADERS.items():
        assert resp.headers[name] == value, name
    assert resp.headers["accept-ranges"] == "bytes"
    assert resp.headers["etag"].startswith('"') and resp.headers["last-modified"].endswith("GMT")


def test_whole_object(client: TestClient) -> None:
    got = client.get(f"/o/{KEY}")
    assert got.status_code == 200 and got.content == DATA
    assert got.headers["content-type"] == "video/mp4" and got.headers["content-length"] == "1000"
    assert "content-range" not in got.headers
    secured(got)


@pytest.mark.parametrize(
    ("header", "start", "end"), [("bytes=0-", 0, 1000), ("bytes=100-199", 100, 200), ("bytes=-10", 990, 1000)]
)
def test_browser_ranges_answer_206(client: TestClient, header: str, start: int, end: int) -> None:
    got = client.get(f"/o/{KEY}", headers={"Range": header})
    assert got.status_code == 206 and got.content == DATA[start:end]
    assert got.headers["content-range"] == f"bytes {start}-{end - 1}/1000"
    assert got.headers["content-length"] == str(end - start)
    secured(got)


def test_unsatisfiable_range_is_416(client: TestClient) -> None:
    got = client.get(f"/o/{KEY}", headers={"Range": "bytes=1000-"})
    assert got.status_code == 416 and got.headers["content-range"] == "bytes */1000"


@pytest.mark.parametrize("header", ["bytes=abc", "bytes=5-1", "bytes=0-1,3-4", "lines=1-2", "bytes=" + "9" * 40])
def test_malformed_ranges_answer_the_whole_object(client: TestClient, header: str) -> None:
    got = client.get(f"/o/{KEY}", headers={"Range": header})
    assert got.status_code == 200 and got.content == DATA
    secured(got)


def test_if_none_match_and_if_modified_since(client: TestClient) -> None:
    first = client.get(f"/o/{KEY}")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert client.get(f"/o/{KEY}").headers["etag"] == etag  # stable
    for headers in ({"If-None-Match": etag}, {"If-None-Match": f'"x", W/{etag}'}, {"If-None-Match": "*"}):
        again = client.get(f"/o/{KEY}", headers=headers)
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
        secured(again)
    assert client.get(f"/o/{KEY}", headers={"If-None-Match": '"other"'}).status_code == 200
    assert client.get(f"/o/{KEY}", headers={"If-Modified-Since": modified}).status_code == 304
    long_ago = formatdate(0, usegmt=True)
    assert client.get(f"/o/{KEY}", headers={"If-Modified-Since": long_ago}).status_code == 200
    # If-None-Match wins over If-Modified-Since; a date that is no date is ignored
    assert client.get(f"/o/{KEY}", headers={"If-None-Match": '"x"', "If-Modified-Since": modified}).status_code == 200
    assert client.get(f"/o/{KEY}", headers={"If-Modified-Since": "yesterday"}).status_code == 200


def test_if_range(client: TestClient) -> None:
    first = client.get(f"/o/{KEY}")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    for validator in (etag, modified):
        assert client.get(f"/o/{KEY}", headers={"Range": "bytes=1-2", "If-Range": validator}).status_code == 206
    for stale in ('"old"', f"W/{etag}", formatdate(0, usegmt=True), "garbage"):
        got = client.get(f"/o/{KEY}", headers={"Range": "bytes=1-2", "If-Range": stale})
        assert got.status_code == 200 and got.content == DATA


def test_head_answers_headers_only(client: TestClient) -> None:
    got = client.head(f"/o/{KEY}", headers={"Range": "bytes=0-9"})  # (ranges are for GET)
    assert got.status_code == 200 and got.content == b"" and got.headers["content-length"] == "1000"
    secured(got)


def test_text_keeps_its_charset(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    asyncio.run(storage.put("notes.txt", b"hello", "text/plain"))
    got = app_for(storage, "text/plain").get("/o/notes.txt", headers={"Range": "bytes=1-"})
    assert got.status_code == 206 and got.content == b"ello"
    assert got.headers["content-type"] == "text/plain; charset=utf-8"


def test_missing_object(client: TestClient) -> None:
    assert client.get("/o/generated/none.bin").status_code == 404


def test_local_and_s3_answer_alike(local: TestClient, s3: tuple[TestClient, Any]) -> None:
    def shape(resp: Any) -> tuple[Any, ...]:
        h = resp.headers
        return resp.status_code, resp.content, h.get("content-range"), h["content-length"], h["content-type"]

    for headers in ({}, {"Range": "bytes=0-"}, {"Range": "bytes=10-19"}, {"Range": "bytes=-3"}, {"Range": "x"}):
        assert shape(local.get(f"/o/{KEY}", headers=headers)) == shape(s3[0].get(f"/o/{KEY}", headers=headers))


# ------------------------------------------------------------------------------------------ streaming


class BodySpy:
    """Stands in for boto3's StreamingBody: records every read size and whether it was closed."""

    def __init__(self, body: Any, reads: list[int | None], closed: list[bool]):
        self.body, self.reads, self.closed = body, reads, closed

    def read(self, amt: int | None = None) -> bytes:
        self.reads.append(amt)
        data: bytes = self.body.read(amt)
        return data

    def close(self) -> None:
        self.closed.append(True)
        self.body.close()


def spy_on_bodies(storage: Any) -> tuple[list[int | None], list[bool], list[str]]:
    reads: list[int | None] = []
    closed: list[bool] = []
    ranges: list[str] = []
    get_object = storage.client.get_object

    def spied(**kwargs: Any) -> Any:
        ranges.append(kwargs.get("Range"))
        got = get_object(**kwargs)
        got["Body"] = BodySpy(got["Body"], reads, closed)
        return got

    storage.client.get_object = spied

    async def no_whole_reads(key: str) -> bytes | None:
        raise AssertionError("read() loads the whole object")

    storage.read = no_whole_reads
    return reads, closed, ranges


def test_a_large_s3_object_is_streamed_a_chunk_at_a_time() -> None:
    from runapi.storage.s3 import S3Storage

    big = os.urandom(20 * 1024 * 1024)
    with moto.mock_aws():
        storage = S3Storage("runapi-unit", access_key_id="test", secret_access_key="test")
        storage.client.create_bucket(Bucket="runapi-unit")
        asyncio.run(storage.put("big.mp4", big, "video/mp4"))
        reads, closed, ranges = spy_on_bodies(storage)
        client = app_for(storage)

        got = client.get("/o/big.mp4")
        assert got.status_code == 200 and got.content == big
        assert None not in reads and max(r for r in reads if r) <= READ_CHUNK
        assert len(reads) >= len(big) // READ_CHUNK
        assert ranges == [f"bytes=0-{len(big) - 1}"] and closed == [True]

        reads.clear(), closed.clear(), ranges.clear()
        got = client.get("/o/big.mp4", headers={"Range": "bytes=10000000-10000099"})
        assert got.status_code == 206 and got.content == big[10_000_000:10_000_100]
        assert ranges == ["bytes=10000000-10000099"] and reads == [100] and closed == [True]  # only the range

        reads.clear(), closed.clear(), ranges.clear()
        assert client.head("/o/big.mp4").headers["content-length"] == str(len(big))
        assert ranges == [] and reads == []  # HEAD reads nothing


def test_stopping_early_closes_the_s3_body(s3: tuple[TestClient, Any]) -> None:
    storage = s3[1]
    reads, closed, _ = spy_on_bodies(storage)

    async def first_chunk() -> bytes:
        chunks = storage.open_range(KEY, 0, len(DATA))
        first: bytes = await anext(chunks)
        await chunks.aclose()
        return first

    assert asyncio.run(first_chunk()) == DATA and closed == [True]


class FakeStorage:
    """An object of 10 chunks, counting what was pulled and whether the iterator was finished off."""

    def __init__(self) -> None:
        self.pulled = 0
        self.closed = False

    async def stat(self, key: str) -> ObjectInfo:
        return ObjectInfo(10 * READ_CHUNK, '"v1"', 0.0)

    async def open_range(self, key: str, start: int, end: int) -> AsyncGenerator[bytes, None]:
        try:
            for _ in range(10):
                self.pulled += 1
                yield b"x" * READ_CHUNK
        finally:
            self.closed = True

    async def read(self, key: str) -> bytes:
        raise AssertionError("read() loads the whole object")


def test_a_client_gone_mid_answer_closes_the_storage_stream() -> None:
    storage = FakeStorage()
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if len(sent) == 3:  # the start and two chunks went out; then the connection is gone
            raise OSError("client disconnected")

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    size = str(10 * READ_CHUNK)
    response = ObjectResponse(storage, "k", ByteRange(0, 10 * READ_CHUNK), 200, {"Content-Length": size})  # type: ignore[arg-type]
    scope = {"type": "http", "method": "GET", "asgi": {"spec_version": "2.4"}}
    with pytest.raises(Exception):  # (starlette's ClientDisconnect)
        asyncio.run(response(scope, receive, send))  # type: ignore[arg-type]
    assert storage.pulled == 2 and storage.closed


def test_serving_never_reads_whole() -> None:
    storage = FakeStorage()
    got = app_for(storage).get("/o/k", headers={"Range": "bytes=0-"})  # type: ignore[arg-type]
    assert got.status_code == 206 and len(got.content) == 10 * READ_CHUNK and storage.closed


def test_presigned_urls_carry_our_type_and_disposition(s3: tuple[TestClient, Any], tmp_path: Path) -> None:
    storage = s3[1]
    url = asyncio.run(storage.presigned_url(KEY, 60, "video/mp4", "inline; filename*=UTF-8''a.mp4"))
    assert "response-content-type=video%2Fmp4" in url and "response-content-disposition=inline" in url
    assert "X-Amz-Expires=60" in url
    assert asyncio.run(LocalStorage(tmp_path).presigned_url(KEY, 60, "video/mp4", "inline")) is None


def test_a_presigned_url_never_outlives_our_link() -> None:
    asked: list[int] = []

    class Signing(FakeStorage):
        async def presigned_url(self, key: str, seconds: int, content_type: str, disposition: str) -> str:
            asked.append(seconds)
            return "https://bucket.example/k?sig"

    now = int(time.time())
    moved = asyncio.run(presigned_redirect(Signing(), "k", "image/png", "inline", 300, now + 30))  # type: ignore[arg-type]
    assert (
        moved is not None and moved.status_code == 307 and moved.headers["location"] == "https://bucket.example/k?sig"
    )
    assert 0 < asked[0] <= 30
    asyncio.run(presigned_redirect(Signing(), "k", "image/png", "inline", 300, now + 3600))  # type: ignore[arg-type]
    assert asked[1] == 300
    assert asyncio.run(presigned_redirect(Signing(), "k", "image/png", "inline", 300, now - 1)) is None  # type: ignore[arg-type]
