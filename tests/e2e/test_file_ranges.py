"""Every endpoint serving a stored object answers the way browsers and media players need (api/serving.py):
byte ranges (206, 416), validators and 304, HEAD, with the security headers the endpoint sets on every answer.
Local storage here; the same against S3 in test_s3_storage.py."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.support.file_ranges import CSP, PNG, check_ranges, fetcher, file_headers
from tests.support.servers import wait_done


def test_signed_file_links(api: httpx.Client) -> None:
    up = api.post("/api/v1/files", files={"file": ("a.png", PNG)}).json()
    check_ranges(fetcher(up["url"]), PNG, file_headers(inline=True))


def test_v1_files_content(server: Any, api: httpx.Client) -> None:
    made = api.post("/v1/files", files={"file": ("a.png", PNG)}, data={"purpose": "user_data"}).json()
    check_ranges(fetcher(f"/v1/files/{made['id']}/content", api), PNG, file_headers(inline=True))


def test_generated_media_links(api: httpx.Client) -> None:
    made = api.post("/api/v1/nano_banana/text_to_image", json={"model": "nano-banana", "prompt": "ranges"}).json()
    url = wait_done(api, "/api/v1/nano_banana/text_to_image", made["id"])["images"][0]["url"]
    data = httpx.get(url).content

    def secure(resp: httpx.Response) -> None:
        assert resp.headers["x-content-type-options"] == "nosniff"
        assert resp.headers["content-security-policy"] == CSP
        assert resp.headers["content-type"].split(";")[0] in ("image/png", "image/jpeg")

    check_ranges(fetcher(url), data, secure)


def test_video_content(api: httpx.Client) -> None:
    made = api.post("/v1/videos", json={"model": "grok-imagine-text-to-video", "prompt": "A kite"}).json()
    deadline = time.time() + 30
    while api.get(f"/v1/videos/{made['id']}").json()["status"] != "completed":
        assert time.time() < deadline, "video not made in time"
        time.sleep(0.1)
    url = f"/v1/videos/{made['id']}/content"
    data = api.get(url).content
    assert data[4:8] == b"ftyp"

    def secure(resp: httpx.Response) -> None:
        assert resp.headers["content-type"] == "video/mp4" and resp.headers["x-runapi-task-id"] == made["id"]
        assert resp.headers["x-content-type-options"] == "nosniff"

    check_ranges(fetcher(url, api), data, secure)


def test_a_stored_object_gone_is_404_not_500(api: httpx.Client, server: Any) -> None:
    up = api.post("/api/v1/files", files={"file": ("a.png", PNG)}).json()
    key = up["url"].split("/files/")[1].split("?")[0]
    (server.settings.resolved_storage_dir / key).unlink()
    for headers in ({}, {"Range": "bytes=0-"}):
        assert httpx.get(up["url"], headers=headers).status_code == 404
