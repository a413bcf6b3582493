"""The range and conditional-request contract of a served stored object (api/serving.py), checked the same way
against every endpoint and both storage backends (tests/e2e/test_file_ranges.py, test_s3_storage.py)."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from runapi.providers.sandbox import samples

CSP = "default-src 'none'; sandbox"
PNG = samples.sample_bytes("png")
MALFORMED = ["bytes=abc", "bytes=5-1", "bytes=0-1,5-9", "pages=1-2", "bytes=--1", "bytes=1-2-3", "bytes=0x1-2"]
UNSATISFIABLE = ["bytes=99999999-", "bytes=" + "9" * 200 + "-", "bytes=-0"]


def check_ranges(get: Callable[..., httpx.Response], data: bytes, secure: Callable[[httpx.Response], None]) -> None:
    """The range/conditional contract, for one served object whose bytes are `data`."""
    size = len(data)
    whole = get()
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["accept-ranges"] == "bytes" and whole.headers["content-length"] == str(size)
    etag, modified = whole.headers["etag"], whole.headers["last-modified"]
    assert etag.startswith('"') and not etag.startswith("W/")
    secure(whole)

    # what a <video> element asks first, then a seek
    first = get(headers={"Range": "bytes=0-"})
    assert first.status_code == 206 and first.content == data
    assert first.headers["content-range"] == f"bytes 0-{size - 1}/{size}"
    secure(first)
    part = get(headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == data[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{size}" and part.headers["content-length"] == "100"
    assert part.headers["etag"] == etag
    secure(part)
    tail = get(headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == data[-10:]

    for header in UNSATISFIABLE:
        refused = get(headers={"Range": header})
        assert refused.status_code == 416 and refused.headers["content-range"] == f"bytes */{size}", header
    for header in MALFORMED:
        ignored = get(headers={"Range": header})
        assert ignored.status_code == 200 and ignored.content == data, header

    cached = get(headers={"If-None-Match": etag})
    assert cached.status_code == 304 and cached.content == b"" and cached.headers["etag"] == etag
    assert get(headers={"If-Modified-Since": modified}).status_code == 304
    assert get(headers={"If-None-Match": '"stale"'}).status_code == 200
    assert get(headers={"Range": "bytes=1-1", "If-Range": etag}).status_code == 206
    stale = get(headers={"Range": "bytes=1-1", "If-Range": '"stale"'})
    assert stale.status_code == 200 and stale.content == data

    head = get(method="HEAD")
    assert head.status_code == 200 and head.content == b"" and head.headers["content-length"] == str(size)
    assert head.headers["etag"] == etag
    secure(head)


def file_headers(inline: bool) -> Callable[[httpx.Response], None]:
    def secure(resp: httpx.Response) -> None:
        assert resp.headers["x-content-type-options"] == "nosniff"
        assert resp.headers["content-security-policy"] == CSP
        assert resp.headers["content-disposition"].startswith("inline;" if inline else "attachment;")
        assert resp.headers["content-type"] == "image/png"

    return secure


def fetcher(url: str, client: httpx.Client | None = None) -> Callable[..., httpx.Response]:
    def get(method: str = "GET", headers: dict[str, str] | None = None) -> httpx.Response:
        if client is not None:
            return client.request(method, url, headers=headers)
        return httpx.request(method, url, headers=headers)

    return get
