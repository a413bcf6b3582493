"""Issue 11, items 4, 10 and 12: uploads are not free (per-account quota and rate, exact under concurrency on
SQLite and PostgreSQL), a full disk answers 507 and leaves nothing behind, files are served only as what
they are (a GIF/HTML polyglot named x.html stays an inert GIF), links do not follow a forged Host, and
/metrics is not open on a reachable address without a token."""

from __future__ import annotations

import base64
import errno
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select, update

from runapi.providers.sandbox import samples
from runapi.store.schema import files
from tests.support.servers import new_account, start_server, wait_done
from tests.support.services import create_database

PNG = samples.sample_bytes("png")
# Sniffed as a GIF (magic bytes), and a browser told it is HTML would run the script.
POLYGLOT = b"GIF89a/*<html><body><script>alert(document.domain)</script></body></html>*/" + b"\0" * 64
CSP = "default-src 'none'; sandbox"


def upload(client: httpx.Client, data: bytes = PNG, name: str = "a.png") -> httpx.Response:
    return client.post("/api/v1/files", files={"file": (name, data)})


def uploads_on_disk(server) -> list[Path]:
    root = server.settings.resolved_storage_dir
    return [p for d in ("uploads", "pending") if (root / d).exists() for p in (root / d).rglob("*") if p.is_file()]


@pytest.fixture
def limited(tmp_path):
    """A server whose limits a few small uploads reach."""
    srv = start_server(tmp_path, upload_quota_bytes=len(PNG) * 5 // 2, uploads_per_minute=4, upload_bytes_per_minute=0)
    yield srv
    srv.stop()


# ------------------------------------------------------------------------------------------- quota and rate


def test_storage_quota_is_per_account_and_freed_by_expiry(limited):
    with limited.client() as c:
        assert upload(c).status_code == 201 and upload(c).status_code == 201
        refused = upload(c)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "storage_quota_exceeded"
        assert "quota" in refused.json()["error"]["message"].lower()
        # a prepared upload reserves its size too
        prepared = c.post("/api/v1/files/prepare", json={"filename": "b.png", "byte_size": len(PNG)})
        assert prepared.status_code == 403 and prepared.json()["error"]["code"] == "storage_quota_exceeded"
        # URL and base64 sources are refused before anything is fetched or decoded
        b64 = c.post("/api/v1/files", json={"source": {"type": "base64", "data": base64.b64encode(PNG).decode()}})
        assert b64.status_code == 403

    _, other_key = new_account(limited)
    with limited.client(other_key) as other:  # another account has its own quota
        assert upload(other).status_code == 201

    async def expire(db):
        async with db.write() as conn:
            await conn.execute(update(files).values(expires_at=time.time() - 1))

    limited.db_call(expire)
    with limited.client() as c:
        assert upload(c).status_code == 201  # expired files no longer count


def test_upload_rate_answers_429_with_retry_after(tmp_path):
    srv = start_server(tmp_path, uploads_per_minute=3, upload_quota_bytes=0, upload_bytes_per_minute=0)
    try:
        with srv.client() as c:
            assert [upload(c).status_code for _ in range(3)] == [201] * 3
            resp = upload(c)
            assert resp.status_code == 429
            assert resp.json()["error"]["code"] == "rate_limit_exceeded"
            assert 1 <= int(resp.headers["Retry-After"]) <= 60
            prepared = c.post("/api/v1/files/prepare", json={"filename": "b.png", "byte_size": len(PNG)})
            assert prepared.status_code == 429
    finally:
        srv.stop()


def test_upload_bytes_per_minute(tmp_path):
    srv = start_server(tmp_path, uploads_per_minute=0, upload_quota_bytes=0, upload_bytes_per_minute=len(PNG) * 2)
    try:
        with srv.client() as c:
            assert upload(c).status_code == 201 and upload(c).status_code == 201
            resp = upload(c)
            assert resp.status_code == 429 and "per minute" in resp.json()["error"]["message"]
    finally:
        srv.stop()


def _race(servers, key: str, n: int) -> list[int]:
    """n uploads at once, spread over the servers (separate engines and pools on one database)."""
    clients = [s.client(key) for s in servers]
    try:
        with ThreadPoolExecutor(n) as pool:
            return list(pool.map(lambda i: upload(clients[i % len(clients)]).status_code, range(n)))
    finally:
        for c in clients:
            c.close()


def _two_servers(tmp_path, **overrides):
    first = start_server(tmp_path, **overrides)
    # the second shares the first's database (SQLite file or PostgreSQL database) and storage
    second = start_server(
        tmp_path,
        database_url=first.settings.resolved_database_url,
        **{k: v for k, v in overrides.items() if k != "database_url"},
    )
    return first, second


@pytest.mark.parametrize("limit", ["quota", "rate"])
def test_limits_are_exact_under_concurrency_on_sqlite(tmp_path, limit):
    overrides = (
        {"upload_quota_bytes": len(PNG) * 5, "uploads_per_minute": 0}
        if limit == "quota"
        else {"upload_quota_bytes": 0, "uploads_per_minute": 5}
    )
    servers = _two_servers(tmp_path, upload_bytes_per_minute=0, **overrides)
    try:
        statuses = _race(servers, servers[0].key, 24)
    finally:
        for s in servers:
            s.stop()
    assert statuses.count(201) == 5, statuses
    assert statuses.count(403 if limit == "quota" else 429) == 19


def test_quota_is_exact_under_concurrency_on_postgres(services, tmp_path):
    servers = _two_servers(
        tmp_path,
        database_url=create_database(services.database_url),
        upload_quota_bytes=len(PNG) * 5,
        uploads_per_minute=0,
        upload_bytes_per_minute=0,
    )
    try:
        statuses = _race(servers, servers[0].key, 24)
    finally:
        for s in servers:
            s.stop()
    assert statuses.count(201) == 5 and statuses.count(403) == 19, statuses


# ---------------------------------------------------------------------------------------------- disk full


def test_disk_full_answers_507_and_leaves_no_partial_file(server, monkeypatch):
    from runapi import storage

    def half_then_enospc(f, data):
        f.write(data[: len(data) // 2])
        f.flush()
        raise OSError(errno.ENOSPC, "No space left on device")

    before = uploads_on_disk(server)
    monkeypatch.setattr(storage, "_write_all", half_then_enospc)
    with server.client() as c:
        resp = upload(c, name="full.png")
        assert resp.status_code == 507, resp.text
        assert resp.json() == {
            "error": {
                "code": "insufficient_storage",
                "message": "Insufficient storage: the file could not be stored, try again later",
            }
        }
        prepared = c.post("/api/v1/files/prepare", json={"filename": "p.png", "byte_size": len(PNG)}).json()
        assert httpx.put(prepared["upload_url"], content=PNG, headers=prepared["headers"]).status_code == 507
    assert uploads_on_disk(server) == before  # no temp file, no half object

    async def rows(db):
        async with db.read() as conn:
            return (await conn.execute(select(files.c.id).where(files.c.file_name == "full.png"))).all()

    assert server.db_call(rows) == []  # the failed upload holds no quota
    monkeypatch.undo()
    with server.client() as c:
        assert upload(c).status_code == 201


def test_free_space_floor_refuses_uploads_and_makes_ready_fail(tmp_path):
    srv = start_server(tmp_path, storage_min_free_bytes=2**62)  # more than any disk has
    try:
        with srv.client() as c:
            assert upload(c).status_code == 507
        ready = httpx.get(f"{srv.url}/health/ready")
        assert ready.status_code == 503
        storage = ready.json()["checks"]["storage"]
        assert storage["status"] == "error" and "RUNAPI_STORAGE_MIN_FREE_BYTES" in storage["error"]
        assert ready.json()["checks"]["database"]["status"] == "ok"
        assert uploads_on_disk(srv) == []
    finally:
        srv.stop()


# ------------------------------------------------------------------------------------------ serving files


def test_polyglot_named_html_is_served_as_an_inert_gif(api):
    for name in ("x.html", "x.svg", "x.xhtml", "x.xml", "x.js", "x.css"):
        body = api.post("/api/v1/files", files={"file": (name, POLYGLOT, "text/html")}).json()
        assert body["mime_type"] == "image/gif"
        got = httpx.get(body["url"])
        assert got.status_code == 200 and got.content == POLYGLOT
        assert got.headers["content-type"] == "image/gif", name
        assert got.headers["x-content-type-options"] == "nosniff"
        assert got.headers["content-security-policy"] == CSP
        assert got.headers["content-disposition"].startswith("inline;")
        assert got.headers["content-disposition"].endswith(".gif")  # saved, it opens as what it is


def test_non_media_is_an_attachment_and_svg_is_refused(api):
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    body = api.post("/api/v1/files", files={"file": ("doc.html", pdf)}).json()
    assert body["mime_type"] == "application/pdf"
    got = httpx.get(body["url"])
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["content-disposition"].startswith("attachment;")
    assert got.headers["content-security-policy"] == CSP
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    assert api.post("/api/v1/files", files={"file": ("a.svg", svg, "image/svg+xml")}).status_code == 415


def test_generated_files_keep_the_type_we_produced(api):
    made = api.post("/api/v1/nano_banana/text_to_image", json={"model": "nano-banana", "prompt": "a kite"}).json()
    done = wait_done(api, "/api/v1/nano_banana/text_to_image", made["id"])
    got = httpx.get(done["images"][0]["url"])
    assert got.headers["content-type"].split(";")[0] in ("image/png", "image/jpeg")
    assert got.headers["content-security-policy"] == CSP and got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-disposition"].startswith("inline;")


def test_files_url_is_a_separate_origin_whose_links_verify(tmp_path):
    srv = start_server(tmp_path, files_url="https://files.example.test/")
    try:
        with srv.client() as c:
            link = upload(c).json()["url"]
            parts = urlsplit(link)
            assert parts.scheme == "https" and parts.netloc == "files.example.test"
            got = httpx.get(f"{srv.url}{parts.path}?{parts.query}", headers={"Host": "files.example.test"})
            assert got.status_code == 200 and got.content == PNG
            assert got.headers["content-security-policy"] == CSP
            # upload targets stay on the API origin
            prepared = c.post("/api/v1/files/prepare", json={"filename": "p.png", "byte_size": len(PNG)}).json()
            assert prepared["upload_url"].startswith(srv.url)
    finally:
        srv.stop()


# -------------------------------------------------------------------------------------- Host and /metrics


def test_a_forged_host_does_not_set_the_links(server, api):
    port = urlsplit(server.url).port
    forged = api.post("/api/v1/files", files={"file": ("a.png", PNG)}, headers={"Host": "evil.example"}).json()
    assert urlsplit(forged["url"]).netloc == f"127.0.0.1:{port}"
    assert httpx.get(forged["url"]).content == PNG
    prepared = api.post(
        "/api/v1/files/prepare", json={"filename": "p.png", "byte_size": len(PNG)}, headers={"Host": "evil.example:443"}
    ).json()
    assert urlsplit(prepared["upload_url"]).netloc == f"127.0.0.1:{port}"
    task = api.post(
        "/api/v1/nano_banana/text_to_image",
        json={"model": "nano-banana", "prompt": "x"},
        headers={"Host": "evil.example"},
    ).json()
    done = wait_done(api, "/api/v1/nano_banana/text_to_image", task["id"])
    assert urlsplit(done["images"][0]["url"]).hostname == "127.0.0.1"
    # on a loopback bind, the loopback names are allowed
    local = api.post("/api/v1/files", files={"file": ("a.png", PNG)}, headers={"Host": f"localhost:{port}"}).json()
    assert urlsplit(local["url"]).netloc == f"localhost:{port}"


def test_allowed_hosts_and_public_url(tmp_path):
    srv = start_server(tmp_path, allowed_hosts=["api.example.com", ".example.org"])
    try:
        with srv.client() as c:
            for host, expected in (
                ("api.example.com", "api.example.com"),
                ("eu.example.org", "eu.example.org"),
                ("evil.example", "127.0.0.1"),
                ("127.0.0.1", "127.0.0.1"),
            ):
                link = (
                    upload(c).json()["url"]
                    if host == "127.0.0.1"
                    else c.post("/api/v1/files", files={"file": ("a.png", PNG)}, headers={"Host": host}).json()["url"]
                )
                assert urlsplit(link).hostname == expected, host
    finally:
        srv.stop()


def test_metrics_need_a_token_off_loopback(tmp_path):
    # the test server listens on 127.0.0.1; the settings say what a deployment would be bound to
    srv = start_server(tmp_path / "open", host="0.0.0.0")
    try:
        resp = httpx.get(f"{srv.url}/metrics")
        assert resp.status_code == 403 and "RUNAPI_METRICS_TOKEN" in resp.json()["error"]
        assert httpx.get(f"{srv.url}/health").status_code == 200
    finally:
        srv.stop()
    srv = start_server(tmp_path / "token", host="0.0.0.0", metrics_token="s3cret")
    try:
        assert httpx.get(f"{srv.url}/metrics").status_code == 401
        assert httpx.get(f"{srv.url}/metrics", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    finally:
        srv.stop()
