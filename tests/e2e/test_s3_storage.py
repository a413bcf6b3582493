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
