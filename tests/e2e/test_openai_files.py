"""Issue 15 item 2: files and uploads, OpenAI style (/v1/files, /v1/uploads), through the platform's own SDK
(runapi-core's FilesClient and Uploads) and OpenAI's SDK (client.files, client.uploads) unchanged but for the
base URL; a file id (or its content link) as a task's input URL; everything per account; clear 4xx for sizes
and part lists that do not add up; expiry."""

from __future__ import annotations

import hashlib
import io
import time
from pathlib import Path

import httpx
import openai
import pytest
from PIL import Image
from sqlalchemy import update

from runapi.providers.sandbox import samples
from runapi.store.schema import file_uploads
from tests.support.servers import new_account, start_server, wait_done

PNG = samples.sample_bytes("png")
JPG = samples.sample_bytes("jpg")
HTML = b"<!doctype html><html><script>alert(1)</script></html>"
EDIT = "/api/v1/nano_banana/edit_image"


def oai(server, key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(api_key=key or server.key, base_url=f"{server.url}/v1", max_retries=0)


def core(server, key: str | None = None):
    from runapi.core import FilesClient, Uploads

    files = FilesClient(api_key=key or server.key, base_url=server.url, max_retries=0)
    return files, Uploads(files._http)


def parts_on_disk(server) -> list[Path]:
    root = server.settings.resolved_storage_dir / "upload-parts"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def tall_png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (300, 600), (10, 200, 10)).save(buf, "PNG")
    return buf.getvalue()


# ----------------------------------------------------------------------------------------- runapi-core SDK


def test_platform_sdk_files(server, tmp_path):
    files, _ = core(server)
    path = tmp_path / "cat.png"
    path.write_bytes(PNG)
    made = files.create_file(str(path), purpose="vision")
    assert made.id.startswith("file_") and made.object == "file" and made.bytes == len(PNG)
    assert made.filename == "cat.png" and made.purpose == "vision" and isinstance(made.created_at, int)
    assert made.expires_at - made.created_at == 3600
    assert httpx.get(made.url).content == PNG  # its link is the signed one /api/v1/files answers with

    got = files.retrieve(made.id)
    assert got.to_dict() == made.to_dict()
    assert files.content(made.id) == PNG

    listed = files.list(purpose="vision")
    assert listed.object == "list" and made.id in [f.id for f in listed.data]
    assert listed.first_id == listed.data[0].id and listed.last_id == listed.data[-1].id

    gone = files.delete_file(made.id)
    assert (gone.id, gone.object, gone.deleted) == (made.id, "file", True)
    from runapi.core import errors

    with pytest.raises(errors.NotFoundError):
        files.retrieve(made.id)
    with pytest.raises(errors.NotFoundError):
        files.delete_file(made.id)
    assert httpx.get(made.url).status_code == 404


def test_platform_sdk_uploads(server, tmp_path):
    files, uploads = core(server)
    data = tall_png()
    up = uploads.create(bytes=len(data), filename="tall.png", mime_type="image/png")
    assert up.object == "upload" and up.status == "pending" and up.purpose == "user_data"
    assert up.expires_at - up.created_at == 3600 and up.file is None
    cut = len(data) // 3
    ids = []
    for i, chunk in enumerate((data[:cut], data[cut : 2 * cut], data[2 * cut :])):
        p = tmp_path / f"part{i}"
        p.write_bytes(chunk)
        part = uploads.add_part(up.id, str(p))
        assert part.object == "upload.part" and part.upload_id == up.id and isinstance(part.created_at, int)
        ids.append(part.id)
    done = uploads.complete(up.id, ids)
    assert done.status == "completed" and done.file.bytes == len(data) and done.file.filename == "tall.png"
    assert files.content(done.file.id) == data
    assert parts_on_disk(server) == []  # completing discards the parts

    other = uploads.create(bytes=10, filename="x.png", mime_type="image/png")
    cancelled = uploads.cancel(other.id)
    assert cancelled.status == "cancelled" and cancelled.file is None


# ---------------------------------------------------------------------------------------------- OpenAI SDK


def test_openai_sdk_files(server):
    client = oai(server)
    made = client.files.create(file=("photo.jpg", JPG), purpose="user_data")
    assert made.object == "file" and made.bytes == len(JPG) and made.status == "processed"
    assert client.files.retrieve(made.id).filename == "photo.jpg"
    assert client.files.content(made.id).content == JPG
    assert made.id in [f.id for f in client.files.list()]
    deleted = client.files.delete(made.id)
    assert deleted.deleted and deleted.id == made.id
    with pytest.raises(openai.NotFoundError) as info:
        client.files.content(made.id)
    assert info.value.body["type"] == "invalid_request_error" and made.id in info.value.body["message"]


def test_openai_sdk_list_pages_through_every_file(server):
    _, key = new_account(server)
    client = oai(server, key)
    made = [client.files.create(file=(f"{i}.png", PNG), purpose="vision").id for i in range(5)]
    page = client.files.list(limit=2, order="asc")
    assert [f.id for f in page.data] == made[:2] and page.has_more
    assert [f.id for f in page] == made  # iterating asks for after=<last id>, page after page
    assert [f.id for f in client.files.list(limit=100)] == made[::-1]  # newest first by default
    assert client.files.list(purpose="batch").data == []


def test_openai_sdk_uploads(server):
    client = oai(server)
    data = tall_png()
    up = client.uploads.create(bytes=len(data), filename="t.png", mime_type="image/png", purpose="vision")
    assert up.status == "pending" and up.bytes == len(data)
    first = client.uploads.parts.create(upload_id=up.id, data=data[:1000])
    second = client.uploads.parts.create(upload_id=up.id, data=data[1000:])
    md5 = hashlib.md5(data).hexdigest()
    done = client.uploads.complete(upload_id=up.id, part_ids=[first.id, second.id], md5=md5)
    assert done.status == "completed" and done.file is not None and done.file.purpose == "vision"
    assert client.files.content(done.file.id).content == data
    # the same completion again (a client retrying after a lost answer) answers with the same file
    again = client.uploads.complete(upload_id=up.id, part_ids=[first.id, second.id])
    assert again.file is not None and again.file.id == done.file.id

    other = client.uploads.create(bytes=5, filename="x.png", mime_type="image/png", purpose="user_data")
    client.uploads.parts.create(upload_id=other.id, data=b"12345")
    assert client.uploads.cancel(upload_id=other.id).status == "cancelled"
    assert client.uploads.cancel(upload_id=other.id).status == "cancelled"  # again: the same answer
    with pytest.raises(openai.BadRequestError):
        client.uploads.parts.create(upload_id=other.id, data=b"1")
    assert parts_on_disk(server) == []


def test_openai_sdk_upload_file_chunked(server, tmp_path):
    client = oai(server)
    data = tall_png()
    done = client.uploads.upload_file_chunked(
        file=data, filename="c.png", bytes=len(data), mime_type="image/png", purpose="user_data", part_size=700
    )
    assert done.status == "completed" and client.files.content(done.file.id).content == data
    path = tmp_path / "d.png"
    path.write_bytes(data)
    from_path = client.uploads.upload_file_chunked(file=path, mime_type="image/png", purpose="vision")
    assert from_path.file is not None and from_path.file.filename == "d.png"


# ----------------------------------------------------------------------------------------- files as inputs


def test_a_file_id_or_its_content_link_is_a_task_input(api, server):
    client = oai(server)
    f = client.files.create(file=("tall.png", tall_png()), purpose="vision")
    for source in (f.id, f"{server.url}/v1/files/{f.id}/content"):
        made = api.post(
            EDIT,
            json={"model": "nano-banana-edit", "prompt": "x", "source_image_urls": [source], "aspect_ratio": "auto"},
        )
        assert made.status_code == 202, made.text
        done = wait_done(api, EDIT, made.json()["id"])
        assert done["status"] == "completed"
        out = Image.open(io.BytesIO(api.get(done["images"][0]["url"]).content))
        assert abs(out.width / out.height - 0.5) < 0.02  # the task read our file
    refused = api.post(EDIT, json={"model": "nano-banana-edit", "prompt": "x", "source_image_urls": ["file_nope"]})
    assert refused.status_code == 422 and "file id" in refused.json()["error"]
    callback = api.post(
        EDIT, json={"model": "nano-banana-edit", "prompt": "x", "source_image_urls": [f.id], "callback_url": f.id}
    )
    assert callback.status_code == 422  # a callback is sent to, never read from


def test_an_uploaded_file_id_works_with_an_idempotency_key(api, server):
    f = oai(server).files.create(file=("a.png", PNG), purpose="vision")
    body = {"model": "nano-banana-edit", "prompt": "x", "source_image_urls": [f.id]}
    first = api.post(EDIT, json=body, headers={"Idempotency-Key": f"k-{f.id}"})
    again = api.post(EDIT, json=body, headers={"Idempotency-Key": f"k-{f.id}"})
    assert first.status_code == 202 and again.json()["id"] == first.json()["id"]


# ---------------------------------------------------------------------------------------- another account


def test_another_accounts_files_and_uploads_are_not_found(server):
    mine = oai(server)
    f = mine.files.create(file=("a.png", PNG), purpose="user_data")
    up = mine.uploads.create(bytes=len(PNG), filename="a.png", mime_type="image/png", purpose="user_data")
    part = mine.uploads.parts.create(upload_id=up.id, data=PNG)
    _, key = new_account(server)
    theirs = oai(server, key)
    for call in (
        lambda: theirs.files.retrieve(f.id),
        lambda: theirs.files.content(f.id),
        lambda: theirs.files.delete(f.id),
        lambda: theirs.uploads.parts.create(upload_id=up.id, data=b"x"),
        lambda: theirs.uploads.complete(upload_id=up.id, part_ids=[part.id]),
        lambda: theirs.uploads.cancel(upload_id=up.id),
    ):
        with pytest.raises(openai.NotFoundError):
            call()
    assert f.id not in [x.id for x in theirs.files.list()]
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}) as c:
        made = c.post(EDIT, json={"model": "nano-banana-edit", "prompt": "x", "source_image_urls": [f.id]})
        assert made.status_code == 404 and "Record does not exist" in made.json()["error"]
    # and nothing of mine was touched
    assert mine.files.retrieve(f.id).id == f.id
    assert mine.uploads.complete(upload_id=up.id, part_ids=[part.id]).status == "completed"


# ------------------------------------------------------------------------------------ limits and refusals


def test_sizes_and_part_lists_that_do_not_add_up(server):
    client = oai(server)
    with pytest.raises(openai.APIStatusError) as info:
        client.uploads.create(bytes=60 * 1024 * 1024, filename="big.mp4", mime_type="video/mp4", purpose="user_data")
    assert info.value.status_code == 413 and "maximum file size" in info.value.message
    up = client.uploads.create(bytes=len(PNG), filename="a.png", mime_type="image/png", purpose="user_data")
    with pytest.raises(openai.APIStatusError) as info:
        client.uploads.parts.create(upload_id=up.id, data=PNG + b"x")
    assert info.value.status_code == 413 and info.value.body["code"] == "upload_too_large"
    with pytest.raises(openai.APIStatusError) as info:  # refused from its Content-Length, before it is read
        client.uploads.parts.create(upload_id=up.id, data=PNG * 3)
    assert info.value.status_code == 413 and "remain" in info.value.message
    a = client.uploads.parts.create(upload_id=up.id, data=PNG[:100])
    b = client.uploads.parts.create(upload_id=up.id, data=PNG[100:])
    for ids, code in (
        ([a.id], "size_mismatch"),
        ([a.id, a.id, b.id], "invalid_part_order"),
        ([a.id, "part_nope"], "invalid_part_order"),
    ):
        with pytest.raises(openai.BadRequestError) as info:
            client.uploads.complete(upload_id=up.id, part_ids=ids)
        assert info.value.body["code"] == code, info.value.body
    with pytest.raises(openai.BadRequestError) as info:
        client.uploads.complete(upload_id=up.id, part_ids=[a.id, b.id], md5="0" * 32)
    assert info.value.body["code"] == "checksum_mismatch"
    # the wrong order is a file of the right size that is no PNG: refused as its type, the upload still open
    with pytest.raises(openai.APIStatusError) as info:
        client.uploads.complete(upload_id=up.id, part_ids=[b.id, a.id])
    assert info.value.status_code == 415
    done = client.uploads.complete(upload_id=up.id, part_ids=[a.id, b.id])
    assert done.status == "completed"
    with pytest.raises(openai.BadRequestError) as info:
        client.uploads.parts.create(upload_id=up.id, data=b"x")
    assert "completed" in info.value.message
    with pytest.raises(openai.BadRequestError):
        client.uploads.cancel(upload_id=up.id)


def test_bad_file_requests(server):
    client = oai(server)
    with pytest.raises(openai.APIStatusError) as info:
        client.files.create(file=("page.png", HTML), purpose="user_data")
    assert info.value.status_code == 415 and info.value.body["code"] == "unsupported_file_type"
    with pytest.raises(openai.BadRequestError) as info:
        client.files.create(file=("a.png", PNG), purpose="nonsense")  # type: ignore[arg-type]
    assert "purpose" in info.value.message
    with pytest.raises(openai.BadRequestError):
        client.files.create(
            file=("a.png", PNG), purpose="user_data", expires_after={"anchor": "created_at", "seconds": 5}
        )
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.key}"}) as c:
        assert c.post("/v1/files", files={"file": ("a.png", PNG)}).status_code == 400  # purpose is required
        assert c.post("/v1/files", json={"purpose": "user_data"}).status_code == 400
        assert c.get("/v1/files", params={"limit": 0}).status_code == 422
        assert c.get("/v1/files", params={"after": "file_unknown"}).status_code == 422
        assert c.post("/v1/uploads", json={"bytes": 5, "filename": "a", "mime_type": "image/png"}).status_code == 400
        up = c.post("/v1/uploads", json={"bytes": 5, "filename": "a", "mime_type": "image/png", "purpose": "vision"})
        assert c.post(f"/v1/uploads/{up.json()['id']}/parts", data={"x": "y"}).status_code == 400  # no data part
        assert c.post(f"/v1/uploads/{up.json()['id']}/complete", json={}).status_code == 400  # no part_ids
        assert c.post("/v1/uploads/upload_nope/cancel").status_code == 404
    with pytest.raises(openai.AuthenticationError):
        oai(server, "rk-wrong-key-000000000").files.list()


def test_an_expired_upload_answers_as_expired_and_is_discarded(server):
    client = oai(server)
    up = client.uploads.create(bytes=len(PNG), filename="a.png", mime_type="image/png", purpose="user_data")
    part = client.uploads.parts.create(upload_id=up.id, data=PNG[:10])

    async def age(db):
        async with db.write() as conn:
            await conn.execute(
                update(file_uploads).where(file_uploads.c.id == up.id).values(expires_at=time.time() - 1)
            )

    server.db_call(age)
    with pytest.raises(openai.BadRequestError) as info:
        client.uploads.parts.create(upload_id=up.id, data=PNG[10:])
    assert info.value.body["code"] == "upload_expired" and "expired" in info.value.message
    with pytest.raises(openai.BadRequestError):
        client.uploads.complete(upload_id=up.id, part_ids=[part.id])

    async def expire(db):
        from runapi.storage import LocalStorage
        from runapi.storage.multipart import expire_uploads

        return await expire_uploads(db, LocalStorage(server.settings.resolved_storage_dir))

    assert server.db_call(expire) >= 1
    assert not [p for p in parts_on_disk(server) if up.id in str(p)]


def test_an_upload_reserves_its_declared_size_against_the_quota(tmp_path):
    srv = start_server(tmp_path, upload_quota_bytes=len(PNG) * 3 // 2, uploads_per_minute=0, upload_bytes_per_minute=0)
    try:
        client = oai(srv)
        up = client.uploads.create(bytes=len(PNG), filename="a.png", mime_type="image/png", purpose="user_data")
        with pytest.raises(openai.PermissionDeniedError) as info:
            client.uploads.create(bytes=len(PNG), filename="b.png", mime_type="image/png", purpose="user_data")
        assert info.value.body["code"] == "storage_quota_exceeded"
        with pytest.raises(openai.PermissionDeniedError):
            client.files.create(file=("c.png", PNG), purpose="user_data")
        client.uploads.cancel(upload_id=up.id)  # cancelling releases the reservation
        assert client.files.create(file=("c.png", PNG), purpose="user_data").bytes == len(PNG)
    finally:
        srv.stop()


def test_parts_racing_past_the_declared_size_on_every_backend(db_server):
    """Parts sent at once: only those within the declared size are taken (the upload's row is locked while a
    part's share is reserved), on SQLite and PostgreSQL alike; a full upload then completes."""
    from concurrent.futures import ThreadPoolExecutor

    client = oai(db_server)
    size, wanted = 1000, 4
    up = client.uploads.create(bytes=size * wanted, filename="a.bin", mime_type="image/png", purpose="user_data")

    def send(_):
        try:
            return client.uploads.parts.create(upload_id=up.id, data=b"x" * size).id
        except openai.APIStatusError as exc:
            return exc.status_code

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(2 * wanted)))
    taken = [a for a in answers if isinstance(a, str)]
    assert len(taken) == wanted and sorted(a for a in answers if not isinstance(a, str)) == [413] * wanted
    with pytest.raises(openai.APIStatusError) as info:  # all bytes are x: no type we store
        client.uploads.complete(upload_id=up.id, part_ids=taken)
    assert info.value.status_code == 415
    assert client.uploads.cancel(upload_id=up.id).status == "cancelled"

    data = tall_png()
    done = client.uploads.upload_file_chunked(
        file=data, filename="t.png", bytes=len(data), mime_type="image/png", purpose="vision", part_size=1500
    )
    assert done.file is not None and client.files.content(done.file.id).content == data
    assert [f.id for f in client.files.list(purpose="vision")] == [done.file.id]
