"""Cancel over HTTP on a sandbox whose tasks take 30 s: a processing task ends failed "Canceled by the client",
refunded, its callback sent once; cancelling again is 409; another account's task is 404."""

import json
import time

import pytest

from tests.support.servers import new_account, start_server, wait_for

T2I = "/api/v1/nano_banana/text_to_image"
CANCELED = "Canceled by the client"


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("slow"), sandbox_delay_seconds=30)
    yield srv
    srv.stop()


def balance(client) -> int:
    return client.get("/api/v1/me/balance").json()["balance_cents"]


def test_cancel_fails_refunds_and_calls_back_once(slow_server, recorder):
    receiver = recorder()
    _, key = new_account(slow_server, credits=1_000)
    with slow_server.client(key) as api:
        before = balance(api)
        resp = api.post(T2I, json={"model": "nano-banana", "prompt": "a cat", "callback_url": f"{receiver.url}/cb"})
        assert resp.status_code == 202, resp.text
        task_id = resp.json()["id"]
        assert balance(api) < before  # reserved
        time.sleep(0.5)  # let the worker claim it: the cancel wins against the lease holder too
        canceled = api.post(f"{T2I}/{task_id}/cancel")
        assert canceled.status_code == 200, canceled.text
        body = canceled.json()
        assert body["id"] == task_id and body["status"] == "failed" and body["error"] == CANCELED
        assert balance(api) == before
        shown = api.get(f"{T2I}/{task_id}").json()
        assert shown == body
        wait_for(lambda: len(receiver.requests) >= 1)
        time.sleep(1.0)  # nothing more arrives
        assert len(receiver.requests) == 1
        assert json.loads(receiver.requests[0]["body"]) == body
        again = api.post(f"{T2I}/{task_id}/cancel")
        assert again.status_code == 409 and "already failed" in again.json()["error"]
        again = api.post(f"/api/v1/tasks/{task_id}/cancel")
        assert again.status_code == 409
        assert balance(api) == before


def test_cancel_by_task_id_and_visibility(slow_server):
    _, key = new_account(slow_server, credits=1_000)
    _, other = new_account(slow_server, credits=1_000)
    with slow_server.client(key) as api, slow_server.client(other) as them:
        task_id = api.post(T2I, json={"model": "nano-banana", "prompt": "a dog"}).json()["id"]
        for path in (f"{T2I}/{task_id}/cancel", f"/api/v1/tasks/{task_id}/cancel"):
            resp = them.post(path)
            assert resp.status_code == 404 and resp.json()["error"] == "Task not found"
        # the wrong action's cancel does not find it either, as its status endpoint does not
        assert api.post(f"/api/v1/nano_banana/edit_image/{task_id}/cancel").status_code == 404
        resp = api.post(f"/api/v1/tasks/{task_id}/cancel")
        assert resp.status_code == 200 and resp.json()["status"] == "failed"
        assert api.get(f"{T2I}/{task_id}").json()["error"] == CANCELED
