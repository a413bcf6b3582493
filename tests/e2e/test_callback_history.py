"""GET /api/v1/tasks/<id>/callbacks (each delivery with its attempts) and POST .../callbacks/replay (the final
body again, same X-Callback-Id, signed afresh) over HTTP, with a local receiver."""

import json
import time

from runapi.auth import admin
from tests.e2e.test_callbacks import verify_callback
from tests.support.servers import new_account, start_server, wait_done, wait_for

T2I = "/api/v1/nano_banana/text_to_image"


def test_attempts_are_listed_and_the_final_callback_replays(server, recorder):
    calls: list[int] = []

    def flaky(m, p, h, b):  # the first attempt fails: two attempts are recorded
        calls.append(1)
        return (503, {}, b"") if len(calls) == 1 else (200, {}, b"ok")

    receiver = recorder(flaky)
    account, key = new_account(server, credits=1_000)
    secret = server.db_call(lambda db: admin.callback_secret(db, account))
    with server.client(key) as api:
        task_id = api.post(T2I, json={"model": "nano-banana", "prompt": "a cat", "callback_url": receiver.url}).json()[
            "id"
        ]
        status = wait_done(api, T2I, task_id)
        wait_for(lambda: len(receiver.requests) >= 2)

        def history() -> dict:
            resp = api.get(f"/api/v1/tasks/{task_id}/callbacks")
            assert resp.status_code == 200, resp.text
            return resp.json()

        wait_for(lambda: history()["data"][0]["state"] == "delivered")
        listed = history()
        assert listed["object"] == "list" and len(listed["data"]) == 1
        [d] = listed["data"]
        assert d["id"] == receiver.requests[0]["headers"]["X-Callback-Id"] and d["final"]
        assert d["url"] == receiver.url and d["last_status"] == 200
        assert [(a["attempt"], a["status_code"], a["error"]) for a in d["attempts"]] == [
            (1, 503, "HTTP 503"),
            (2, 200, None),
        ]
        assert all(a["latency_ms"] >= 0 and a["started_at"] for a in d["attempts"])

        time.sleep(1.1)  # a later second: the replay's timestamp (and so its signature) differs
        replayed = api.post(f"/api/v1/tasks/{task_id}/callbacks/replay")
        assert replayed.status_code == 202, replayed.text
        assert replayed.json()["id"] == d["id"]
        wait_for(lambda: len(receiver.requests) >= 3)
        first, again = receiver.requests[1], receiver.requests[2]
        assert again["headers"]["X-Callback-Id"] == first["headers"]["X-Callback-Id"]
        assert again["headers"]["X-Callback-Timestamp"] != first["headers"]["X-Callback-Timestamp"]
        assert again["headers"]["X-Callback-Signature"] != first["headers"]["X-Callback-Signature"]
        assert verify_callback(again["headers"], again["body"].decode(), secret)
        assert json.loads(again["body"]) == status
        wait_for(lambda: history()["data"][0]["state"] == "delivered")
        attempts = history()["data"][0]["attempts"]
        assert [(a["attempt"], a["status_code"]) for a in attempts] == [(1, 503), (2, 200), (1, 200)]
        time.sleep(0.3)
        assert len(receiver.requests) == 3


def test_replay_refusals(server):
    _, key = new_account(server, credits=1_000)
    _, other = new_account(server, credits=1_000)
    with server.client(key) as api, server.client(other) as them:
        task_id = api.post(T2I, json={"model": "nano-banana", "prompt": "no callback"}).json()["id"]
        wait_done(api, T2I, task_id)
        assert api.get(f"/api/v1/tasks/{task_id}/callbacks").json() == {"object": "list", "data": []}
        resp = api.post(f"/api/v1/tasks/{task_id}/callbacks/replay")
        assert resp.status_code == 409 and "no callback_url" in resp.json()["error"]
        for resp in (
            them.get(f"/api/v1/tasks/{task_id}/callbacks"),
            them.post(f"/api/v1/tasks/{task_id}/callbacks/replay"),
        ):
            assert resp.status_code == 404 and resp.json()["error"] == "Task not found"


def test_a_processing_task_has_no_final_callback_to_replay(tmp_path, recorder):
    receiver = recorder()
    srv = start_server(tmp_path, sandbox_delay_seconds=30)
    try:
        with srv.client() as api:
            body = {"model": "nano-banana", "prompt": "slow", "callback_url": receiver.url}
            task_id = api.post(T2I, json=body).json()["id"]
            resp = api.post(f"/api/v1/tasks/{task_id}/callbacks/replay")
            assert resp.status_code == 409 and "not finished" in resp.json()["error"]
            api.post(f"/api/v1/tasks/{task_id}/cancel")
            wait_for(lambda: api.get(f"/api/v1/tasks/{task_id}/callbacks").json()["data"][0]["state"] == "delivered")
            assert api.post(f"/api/v1/tasks/{task_id}/callbacks/replay").status_code == 202
            wait_for(lambda: len(receiver.requests) == 2)
            assert json.loads(receiver.requests[1]["body"])["error"] == "Canceled by the client"
    finally:
        srv.stop()
