"""The task APIs of issue 14 on each database backend (SQLite and PostgreSQL): cancel (a conditional UPDATE …
RETURNING), the task list, and a callback replay (attempt rows updated newest first)."""

import pytest

from tests.support.servers import new_account, start_server, wait_done, wait_for

T2I = "/api/v1/nano_banana/text_to_image"


@pytest.fixture(scope="module")
def slow_db_server(db_backend, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp(f"slow-{db_backend.name}")
    srv = start_server(data_dir, sandbox_delay_seconds=3, **db_backend.server_settings(data_dir))
    yield srv
    srv.stop()


def test_cancel_list_and_replay(slow_db_server, recorder):
    receiver = recorder()
    _, key = new_account(slow_db_server, credits=1_000)
    with slow_db_server.client(key) as api:
        before = api.get("/api/v1/me/balance").json()["balance_cents"]
        body = {"model": "nano-banana", "prompt": "a cat", "callback_url": receiver.url}
        canceled_id = api.post(T2I, json=body).json()["id"]
        kept_id = api.post(T2I, json=body).json()["id"]
        resp = api.post(f"/api/v1/tasks/{canceled_id}/cancel")
        assert resp.status_code == 200 and resp.json()["error"] == "Canceled by the client"
        assert api.post(f"/api/v1/tasks/{canceled_id}/cancel").status_code == 409
        assert wait_done(api, T2I, kept_id)["status"] == "completed"
        listed = api.get("/api/v1/tasks").json()["data"]
        assert [(t["id"], t["status"]) for t in listed] == [(kept_id, "completed"), (canceled_id, "failed")]
        assert listed[1]["cost_cents"] == 0 and listed[0]["cost_cents"] > 0
        assert api.get("/api/v1/me/balance").json()["balance_cents"] == before - listed[0]["cost_cents"]
        assert api.get("/api/v1/tasks?status=failed").json()["data"][0]["id"] == canceled_id

        def final_state(task_id: str) -> str:
            return api.get(f"/api/v1/tasks/{task_id}/callbacks").json()["data"][-1]["state"]

        wait_for(lambda: final_state(canceled_id) == "delivered")
        assert api.post(f"/api/v1/tasks/{canceled_id}/callbacks/replay").status_code == 202
        wait_for(lambda: final_state(canceled_id) == "delivered")
        attempts = api.get(f"/api/v1/tasks/{canceled_id}/callbacks").json()["data"][-1]["attempts"]
        assert [(a["attempt"], a["status_code"]) for a in attempts] == [(1, 200), (1, 200)]
