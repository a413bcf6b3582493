"""POST /api/v1/files from multipart, URL and base64; the SDK's prepare/PUT/confirm upload; limits,
sniffing, SSRF rules, expiry; uploaded URLs work as task inputs."""

import base64
import hashlib
import io
import time

import httpx
import pytest
from PIL import Image

from runapi.providers.sandbox import samples
from tests.support.servers import wait_done

PNG = samples.sample_bytes("png")


def check_answer(resp, size, mime):
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert set(body) == {"file_name", "url", "size_bytes", "mime_type", "created_at", "expires_at"}
    assert body["size_bytes"] == size and body["mime_type"] == mime
    from datetime import datetime

    created = datetime.fromisoformat(body["created_at"].replace("Z", "+00:00"))
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert (expires - created).total_seconds() == 3600
    return body


def test_multipart_upload(api):
    resp = api.post("/api/v1/files", files={"file": ("image.png", PNG, "image/png")}, data={"file_name": "cat.png"})
    body = check_answer(resp, len(PNG), "image/png")
    assert body["file_name"] == "cat.png"
    assert httpx.get(body["url"]).content == PNG


def test_type_is_sniffed_not_trusted(api):
    jpg = samples.sample_bytes("jpg")
    body = check_answer(api.post("/api/v1/files", files={"file": ("x.png", jpg, "image/png")}), len(jpg), "image/jpeg")
    assert body["file_name"] == "x.png"  # the given name is kept; the type is what the bytes are
    mp3 = samples.sample_bytes("mp3")
    check_answer(api.post("/api/v1/files", files={"file": ("voice", mp3, "text/plain")}), len(mp3), "audio/mpeg")


@pytest.mark.parametrize(
    "payload",
    [
        b"<!doctype html><html><script>alert(1)</script></html>",
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        b"alert(document.cookie)",
        b"body { color: red }",
        b"\x00asm\x01\x00\x00\x00",
    ],
)
def test_browser_executable_types_are_refused(api, payload):
    resp = api.post("/api/v1/files", files={"file": ("image.png", payload, "image/png")})
    assert resp.status_code == 415
    assert resp.json() == {"error": {"code": "unsupported_file_type", "message": "File type not supported"}}


def test_base64_sources(api):
    raw = base64.b64encode(PNG).decode()
    for data in (f"data:image/png;base64,{raw}", raw):
        resp = api.post("/api/v1/files", json={"source": {"type": "base64", "data": data}, "file_name": "image.png"})
        check_answer(resp, len(PNG), "image/png")
    bad = api.post("/api/v1/files", json={"source": {"type": "base64", "data": "not base64!!"}})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_source"
    big = base64.b64encode(b"\x89PNG" + b"0" * (10 * 1024 * 1024)).decode()
    resp = api.post("/api/v1/files", json={"source": {"type": "base64", "data": big}})
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "file_too_large"


def test_url_source_in_development_mode(api, recorder):
    host = recorder(lambda m, p, h, b: (200, {"Content-Type": "text/html"}, PNG))  # the header lies; bytes win
    resp = api.post(
        "/api/v1/files", json={"source": {"type": "url", "url": f"{host.url}/image.png"}, "file_name": "image.png"}
    )
    check_answer(resp, len(PNG), "image/png")
    missing = recorder(lambda m, p, h, b: (404, {}, b""))
    resp = api.post("/api/v1/files", json={"source": {"type": "url", "url": f"{missing.url}/x.png"}})
    assert resp.status_code == 400 and "404" in resp.json()["error"]["message"]


def test_bad_requests(api):
    for body in ({}, {"source": "x"}, {"source": {"type": "ftp"}}, {"source": {"type": "url"}}):
        resp = api.post("/api/v1/files", json=body)
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_source"
    resp = api.post("/api/v1/files", files={"other": ("a.png", PNG)})
    assert resp.status_code == 400


def test_prepare_put_confirm_as_the_sdk_does(api, server):
    checksum = base64.b64encode(hashlib.md5(PNG).digest()).decode()
    prepared = api.post(
        "/api/v1/files/prepare", json={"filename": "cat.png", "byte_size": len(PNG), "checksum": checksum}
    ).json()
    assert prepared["headers"]["Content-MD5"] == checksum
    # the upload URL is the credential: no API key
    assert httpx.put(prepared["upload_url"], content=PNG[:-1] + b"x", headers=prepared["headers"]).status_code == 422
    assert httpx.put(prepared["upload_url"] + "x", content=PNG, headers=prepared["headers"]).status_code == 403
    assert httpx.put(prepared["upload_url"], content=PNG, headers=prepared["headers"]).status_code == 204
    resp = api.post("/api/v1/files/confirm", json={"signed_id": prepared["signed_id"]})
    body = check_answer(resp, len(PNG), "image/png")
    assert body["file_name"] == "cat.png" and httpx.get(body["url"]).content == PNG
    assert api.post("/api/v1/files/confirm", json={"signed_id": prepared["signed_id"]}).status_code == 404
    too_big = api.post("/api/v1/files/prepare", json={"filename": "x", "byte_size": 60 * 1024 * 1024})
    assert too_big.status_code == 413


def test_platform_sdk_files_client(server, tmp_path):
    from runapi.core.files import FilesClient

    path = tmp_path / "photo.png"
    path.write_bytes(PNG)
    client = FilesClient(api_key=server.key, base_url=server.url)
    uploaded = client.create(file=str(path))
    assert uploaded.mime_type == "image/png" and uploaded.size_bytes == len(PNG)
    assert httpx.get(uploaded.url).content == PNG
    b64 = client.create(source={"type": "base64", "data": base64.b64encode(PNG).decode()}, file_name="b.png")
    assert b64.file_name == "b.png"


def test_uploaded_urls_work_as_task_inputs(api):
    img = Image.new("RGB", (300, 600), (10, 200, 10))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    url = api.post("/api/v1/files", files={"file": ("tall.png", buf.getvalue())}).json()["url"]
    made = api.post(
        "/api/v1/nano_banana/edit_image",
        json={"model": "nano-banana-edit", "prompt": "x", "source_image_urls": [url], "aspect_ratio": "auto"},
    )
    done = wait_done(api, "/api/v1/nano_banana/edit_image", made.json()["id"])
    out = Image.open(io.BytesIO(api.get(done["images"][0]["url"]).content))
    assert abs(out.width / out.height - 0.5) < 0.02


def test_production_rules_https_only_and_no_private_addresses(strict_server, recorder):
    host = recorder(lambda m, p, h, b: (200, {}, PNG))
    port = host.url.rsplit(":", 1)[1]
    with strict_server.client() as c:
        resp = c.post("/api/v1/files", json={"source": {"type": "url", "url": f"{host.url}/a.png"}})
        assert resp.json() == {"error": {"code": "invalid_source", "message": "Only HTTPS URLs are allowed"}}
        for url in (
            f"https://127.0.0.1:{port}/a.png",
            f"https://localhost:{port}/a.png",
            f"https://[::1]:{port}/a.png",
            f"https://2130706433:{port}/a.png",
            f"https://[::ffff:127.0.0.1]:{port}/a.png",
        ):
            resp = c.post("/api/v1/files", json={"source": {"type": "url", "url": url}})
            assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_source", (url, resp.text)
        # uploads still work, and our own links are usable as task inputs without any network fetch
        url = c.post("/api/v1/files", files={"file": ("a.png", PNG)}).json()["url"]
        made = c.post(
            "/api/v1/nano_banana/edit_image",
            json={"model": "nano-banana-edit", "prompt": "x", "source_image_urls": [url]},
        )
        assert wait_done(c, "/api/v1/nano_banana/edit_image", made.json()["id"])["status"] == "completed"
    assert host.requests == []


def test_expired_files_are_gone(api, server):
    body = api.post("/api/v1/files", files={"file": ("a.png", PNG)}).json()
    from sqlalchemy import update

    from runapi.storage.expiry import expire_files
    from runapi.store.schema import files

    async def age(db):
        async with db.write() as conn:
            await conn.execute(update(files).values(expires_at=time.time() - 1).where(files.c.state == "ready"))

    server.db_call(age)

    async def run(db):  # the expiry job needs only the database and storage
        from runapi.storage import LocalStorage

        return await expire_files(db, LocalStorage(server.settings.resolved_storage_dir))

    assert server.db_call(run) >= 1
    assert httpx.get(body["url"]).status_code == 404
