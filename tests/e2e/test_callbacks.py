"""Callbacks as documented: body = status response; signed headers the docs' verify_callback accepts;
retried on non-2xx/timeouts up to 10 times, same X-Callback-Id throughout; every attempt recorded."""

import base64
import hashlib
import hmac
import json
import time

import pytest
from sqlalchemy import select

from runapi.auth import admin
from runapi.store.schema import callback_attempts, callback_deliveries
from tests.support.bodies import documented
from tests.support.servers import start_server, wait_done, wait_for

T2I = "/api/v1/nano_banana/text_to_image"


# Verbatim from the docs (Callback → 校验回调签名, Python).
def verify_callback(headers, raw_body, secret):
    callback_id = headers.get("X-Callback-Id")
    callback_timestamp = headers.get("X-Callback-Timestamp")
    signature_header = headers.get("X-Callback-Signature", "")
    signed_content = f"{callback_id}.{callback_timestamp}.{raw_body}"
    secret_bytes = base64.b64decode(secret)
    computed_sig_base64 = base64.b64encode(
        hmac.new(secret_bytes, signed_content.encode("utf-8"), hashlib.sha256).digest()
    ).decode("utf-8")
    signatures = [s.strip() for s in signature_header.split(",") if s.strip()]
    return any(hmac.compare_digest(sig, computed_sig_base64) for sig in signatures)


def deliveries(server, task_id):
    async def go(db):
        async with db.read() as conn:
            d = (
                (await conn.execute(select(callback_deliveries).where(callback_deliveries.c.task_id == task_id)))
                .mappings()
                .one()
            )
            attempts = (
                (
                    await conn.execute(
                        select(callback_attempts)
                        .where(callback_attempts.c.delivery_id == d["id"])
                        .order_by(callback_attempts.c.attempt)
                    )
                )
                .mappings()
                .all()
            )
            return dict(d), [dict(a) for a in attempts]

    return server.db_call(go)


def test_completed_callback_is_signed_and_equals_the_status_response(api, server, recorder):
    receiver = recorder()
    resp = api.post(T2I, json={"model": "nano-banana", "prompt": "宁静的山景", "callback_url": f"{receiver.url}/cb"})
    task_id = resp.json()["id"]
    status = wait_done(api, T2I, task_id)
    wait_for(lambda: receiver.requests)
    req = receiver.requests[0]
    secret = server.db_call(lambda db: admin.callback_secret(db, 1))
    raw = req["body"].decode("utf-8")
    assert req["method"] == "POST" and req["path"] == "/cb"
    assert verify_callback(req["headers"], raw, secret)
    assert not verify_callback(req["headers"], raw + " ", secret)
    assert not verify_callback(req["headers"], raw, base64.b64encode(b"another secret").decode())
    assert json.loads(raw) == status
    assert req["headers"]["Content-Type"] == "application/json"
    assert abs(int(req["headers"]["X-Callback-Timestamp"]) - time.time()) < 60
    time.sleep(0.3)
    assert len(receiver.requests) == 1  # delivered once
    d, attempts = deliveries(server, task_id)
    assert d["state"] == "delivered" and d["id"] == req["headers"]["X-Callback-Id"]
    assert [a["status_code"] for a in attempts] == [200]


def test_failed_task_callback_carries_the_error(api, server, recorder):
    receiver = recorder()
    host = recorder(lambda m, p, h, b: (500, {}, b""))
    task_id = api.post(
        "/api/v1/nano_banana/edit_image",
        json={
            "model": "nano-banana-edit",
            "prompt": "x",
            "source_image_urls": [f"{host.url}/a.png"],
            "callback_url": receiver.url,
        },
    ).json()["id"]
    wait_for(lambda: receiver.requests)
    body = json.loads(receiver.requests[0]["body"])
    assert documented(body) == {
        "id": task_id,
        "status": "failed",
        "model": "nano-banana-edit",
        "error": "Failed to fetch the image",
    }


def test_retries_until_2xx_with_the_same_id(api, server, recorder):
    calls = []

    def flaky(m, p, h, b):
        calls.append(1)
        return (503, {}, b"") if len(calls) <= 3 else (204, {}, b"")

    receiver = recorder(flaky)
    task_id = api.post(T2I, json={"model": "nano-banana", "prompt": "x", "callback_url": receiver.url}).json()["id"]
    wait_for(lambda: len(receiver.requests) >= 4)
    time.sleep(0.3)
    assert len(receiver.requests) == 4
    ids = {r["headers"]["X-Callback-Id"] for r in receiver.requests}
    assert len(ids) == 1
    secret = server.db_call(lambda db: admin.callback_secret(db, 1))
    assert all(verify_callback(r["headers"], r["body"].decode(), secret) for r in receiver.requests)
    d, attempts = deliveries(server, task_id)
    assert d["state"] == "delivered" and d["attempts"] == 4
    assert [a["status_code"] for a in attempts] == [503, 503, 503, 204]


def test_gives_up_after_ten_retries(api, server, recorder):
    receiver = recorder(lambda m, p, h, b: (500, {}, b"down"))
    task_id = api.post(T2I, json={"model": "nano-banana", "prompt": "x", "callback_url": receiver.url}).json()["id"]
    wait_for(lambda: deliveries_state(server, task_id) == "failed")
    assert len(receiver.requests) == 11  # the first try and 10 retries
    d, attempts = deliveries(server, task_id)
    assert [a["attempt"] for a in attempts] == list(range(1, 12))
    assert d["last_error"] == "HTTP 500"


def deliveries_state(server, task_id):
    try:
        return deliveries(server, task_id)[0]["state"]
    except Exception:
        return None


@pytest.fixture
def slow_server(tmp_path):
    srv = start_server(tmp_path, callback_timeout_seconds=0.3)
    yield srv
    srv.stop()


def test_timeouts_are_retried(slow_server, recorder):
    calls = []

    def slow_then_fast(m, p, h, b):
        calls.append(1)
        if len(calls) == 1:
            time.sleep(1.0)
        return 200, {}, b"ok"

    receiver = recorder(slow_then_fast)
    with slow_server.client() as api:
        task_id = api.post(T2I, json={"model": "nano-banana", "prompt": "x", "callback_url": receiver.url}).json()["id"]
        wait_for(lambda: deliveries_state(slow_server, task_id) == "delivered")
    d, attempts = deliveries(slow_server, task_id)
    assert attempts[0]["error"] == "timeout" and attempts[1]["status_code"] == 200
