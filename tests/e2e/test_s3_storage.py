"""The S3-compatible storage backend against a local S3 server (moto's, on 127.0.0.1): generated results,
uploads, task inputs and expiry all go through the bucket; links stay our signed /files/ links."""

import asyncio
import io
import time

import boto3
import httpx
import pytest
from botocore.config import Config
from PIL import Image
from sqlalchemy import update

from runapi.providers.sandbox import samples
from runapi.retention import Retention, run_expiry
from runapi.storage import make_storage
from runapi.storage.s3 import S3Storage
from runapi.store.schema import tasks
from tests.support.file_ranges import PNG, check_ranges, fetcher, file_headers
from tests.support.servers import start_server, wait_done

moto_server = pytest.importorskip("moto.server")


@pytest.fixture(scope="module")
def s3():
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )
    client.create_bucket(Bucket="runapi-test")
    yield endpoint, client
    server.stop()


@pytest.fixture(scope="module")
def s3_server(s3, tmp_path_factory):
    endpoint, _ = s3
    srv = start_server(
        tmp_path_factory.mktemp("s3srv"),
        storage_backend="s3",
        s3_bucket="runapi-test",
        s3_prefix="objects",
        s3_endpoint_url=endpoint,
        s3_access_key_id="test",
        s3_secret_access_key="test",
    )
    yield srv
    srv.stop()


def test_results_and_uploads_live_in_the_bucket(s3, s3_server):
    _, client = s3
    with s3_server.client() as api:
        made = api.post("/api/v1/nano_banana/text_to_image", json={"model": "nano-banana", "prompt": "s3"})
        done = wait_done(api, "/api/v1/nano_banana/text_to_image", made.json()["id"])
        img = Image.open(io.BytesIO(httpx.get(done["images"][0]["url"]).content))
        assert img.size == (1024, 1024)
        keys = [o["Key"] for o in client.list_objects_v2(Bucket="runapi-test")["Contents"]]
        assert f"objects/generated/{done['id']}/0.png" in keys
        assert not (s3_server.settings.data_dir / "files").exists()  # nothing on local disk

        png = samples.sample_bytes("png")
        up = api.post("/api/v1/files", files={"file": ("a.png", png)}).json()
        assert httpx.get(up["url"]).content == png
        # an upload used as an input is read back from the bucket
        made = api.post(
            "/api/v1/nano_banana/edit_image",
            json={"model": "nano-banana-edit", "prompt": "x", "source_image_urls": [up["url"]]},
        )
        assert wait_done(api, "/api/v1/nano_banana/edit_image", made.json()["id"])["status"] == "completed"
        # the SDK's direct upload lands in the bucket too
        prepared = api.post("/api/v1/files/prepare", json={"filename": "b.png", "byte_size": len(png)}).json()
        assert httpx.put(prepared["upload_url"], content=png, headers=prepared["headers"]).status_code == 204
        confirmed = api.post("/api/v1/files/confirm", json={"signed_id": prepared["signed_id"]}).json()
        assert httpx.get(confirmed["url"]).content == png


def test_missing_objects_are_404(s3, s3_server):
    with s3_server.client() as api:
        up = api.post("/api/v1/files", files={"file": ("a.png", samples.sample_bytes("png"))}).json()
    _, client = s3
    key = up["url"].split("/files/")[1].split("?")[0]
    client.delete_object(Bucket="runapi-test", Key=f"objects/{key}")
    assert httpx.get(up["url"]).status_code == 404


def test_batched_deletes_use_delete_objects_a_thousand_keys_at_a_time(s3):
    endpoint, client = s3
    store = S3Storage("runapi-test", "bulk", endpoint, None, "test", "test")
    for i in range(3):
        client.put_object(Bucket="runapi-test", Key=f"bulk/generated/t/{i}.png", Body=b"x")
    assert asyncio.run(store.keys_under("generated/t/")) == [f"generated/t/{i}.png" for i in range(3)]
    sent: list[int] = []
    real = store.client.delete_objects

    def spy(**kwargs):
        sent.append(len(kwargs["Delete"]["Objects"]))
        return real(**kwargs)

    store.client.delete_objects = spy
    keys = [f"generated/t/{i}.png" for i in range(3)] + [f"generated/gone/{i}.png" for i in range(998)]
    asyncio.run(store.delete_many(keys))  # 1,001 keys, most already gone (no error: deletes are idempotent)
    assert sent == [1000, 1]
    assert asyncio.run(store.keys_under("generated/t/")) == []
    asyncio.run(store.delete_many(keys[:3]))  # again: nothing to delete, still no error


def test_retention_deletes_generated_files_from_the_bucket(s3, s3_server):
    _, client = s3
    with s3_server.client() as api:
        made = api.post("/api/v1/nano_banana/text_to_image", json={"model": "nano-banana", "prompt": "old"})
        done = wait_done(api, "/api/v1/nano_banana/text_to_image", made.json()["id"])
    folder = f"objects/generated/{done['id']}/"
    assert client.list_objects_v2(Bucket="runapi-test", Prefix=folder).get("KeyCount") == 1

    async def go(db):
        async with db.write() as conn:
            await conn.execute(
                update(tasks).where(tasks.c.id == done["id"]).values(completed_at=time.time() - 8 * 86_400)
            )
        return await run_expiry(db, make_storage(s3_server.settings), Retention())

    report = s3_server.db_call(go)
    assert report.media_tasks >= 1
    assert client.list_objects_v2(Bucket="runapi-test", Prefix=folder).get("KeyCount") == 0
    assert httpx.get(done["images"][0]["url"]).status_code == 410


def test_ranges_and_validators_from_the_bucket(s3_server):
    """The same answers as from local disk (test_file_ranges.py), streamed from the bucket."""
    with s3_server.client() as api:
        up = api.post("/api/v1/files", files={"file": ("a.png", PNG)}).json()
        check_ranges(fetcher(up["url"]), PNG, file_headers(inline=True))
        made = api.post("/v1/files", files={"file": ("b.png", PNG)}, data={"purpose": "user_data"}).json()
        check_ranges(fetcher(f"/v1/files/{made['id']}/content", api), PNG, file_headers(inline=True))
        # the ETag is the bucket's: the same from any server process
        key = up["url"].split("/files/")[1].split("?")[0]
        head = boto3_client(s3_server).head_object(Bucket="runapi-test", Key=f"objects/{key}")
        assert httpx.get(up["url"]).headers["etag"] == head["ETag"]


def boto3_client(server):
    s = server.settings
    return boto3.client(
        "s3",
        endpoint_url=s.s3_endpoint_url,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )


@pytest.fixture(scope="module")
def presigning_server(s3, tmp_path_factory):
    endpoint, _ = s3
    srv = start_server(
        tmp_path_factory.mktemp("s3presign"),
        storage_backend="s3",
        s3_bucket="runapi-test",
        s3_prefix="presigned",
        s3_endpoint_url=endpoint,
        s3_access_key_id="test",
        s3_secret_access_key="test",
        s3_presigned_redirect=True,
        s3_presign_seconds=120,
    )
    yield srv
    srv.stop()


def test_presigned_redirect_sends_the_client_to_the_bucket(s3, presigning_server):
    endpoint, _ = s3
    with presigning_server.client() as api:
        up = api.post("/api/v1/files", files={"file": ("a.png", PNG)}).json()
    moved = httpx.get(up["url"])
    assert moved.status_code == 307 and moved.headers["location"].startswith(endpoint + "/runapi-test/presigned/")
    assert "X-Amz-Expires=120" in moved.headers["location"] and moved.headers["cache-control"] == "no-store"
    # the bucket answers with our type and disposition (not nosniff or CSP: S3 cannot set those)
    got = httpx.get(up["url"], follow_redirects=True)
    assert got.status_code == 200 and got.content == PNG
    assert got.headers["content-type"] == "image/png" and got.headers["content-disposition"].startswith("inline;")
    part = httpx.get(up["url"], headers={"Range": "bytes=100-199"}, follow_redirects=True)
    assert part.status_code == 206 and part.content == PNG[100:200]
    # HEAD stays with us (a pre-signed URL is signed for GET); a bad signature is still refused here
    head = httpx.head(up["url"])
    assert head.status_code == 200 and head.headers["x-content-type-options"] == "nosniff"
    assert httpx.get(up["url"].replace("signature=", "signature=x")).status_code == 403
