"""The task API contract: Idempotency-Key scope and replays, task/request id headers, Retry-After while
processing (and the platform SDK polling by it), referenced tasks of the wrong kind or unfinished, and the
docs' own examples that contradict their parameter tables."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest

from runapi.tasks import engine
from tests.support.servers import new_account, start_server, wait_done

T2I = "/api/v1/nano_banana/text_to_image"
EDIT = "/api/v1/nano_banana/edit_image"
SUNO = "/api/v1/suno"
GROK = "/api/v1/grok_imagine"
VEO = "/api/v1/veo_3_1"


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory):
    """Sandbox tasks take 2 s: a task stays processing long enough to look at it."""
    srv = start_server(tmp_path_factory.mktemp("slow"), sandbox_delay_seconds=2.0)
    yield srv
    srv.stop()


def balance(client) -> int:
    return client.get("/api/v1/me/balance").json()["balance_cents"]


# ---------------------------------------------------------------- 1. Idempotency-Key


def test_replay_answers_with_the_current_status_and_task_replayed(server):
    _, key = new_account(server, credits=100)
    with server.client(key) as c:
        headers = {"Idempotency-Key": "contract-replay"}
        body = {"model": "nano-banana", "prompt": "x"}
        first = c.post(T2I, json=body, headers=headers)
        assert first.status_code == 202 and "task_replayed" not in first.json()
        done = wait_done(c, T2I, first.json()["id"])
        again = c.post(T2I, json=body, headers=headers)
        assert again.status_code == 202  # the original answer's code: a retry looks like the first answer
        assert again.json() == {**done, "task_replayed": True}  # its current status, not "processing"
        assert again.headers["X-RunAPI-Task-Id"] == first.json()["id"]
        assert balance(c) == 96  # charged once


def test_key_reused_with_other_parameters_or_on_another_endpoint_is_409(server):
    _, key = new_account(server, credits=100)
    with server.client(key) as c:
        headers = {"Idempotency-Key": "contract-conflict"}
        task_id = c.post(T2I, json={"model": "nano-banana", "prompt": "x"}, headers=headers).json()["id"]
        other_body = c.post(T2I, json={"model": "nano-banana", "prompt": "y"}, headers=headers)
        assert other_body.status_code == 409
        assert "different request parameters" in other_body.json()["error"]
        other_endpoint = c.post(
            EDIT,
            json={"model": "nano-banana-edit", "prompt": "x", "source_image_urls": ["https://example.com/a.png"]},
            headers=headers,
        )
        assert other_endpoint.status_code == 409
        assert "nano_banana/text_to_image" in other_endpoint.json()["error"]
        # an explicit default is the same request; nothing else was created or charged
        same = c.post(T2I, json={"model": "nano-banana", "prompt": "x", "output_format": "png"}, headers=headers)
        assert (same.status_code, same.json()["id"], same.json()["task_replayed"]) == (202, task_id, True)
        wait_done(c, T2I, task_id)
        assert balance(c) == 96
    # the key is scoped to the account: another account's same key is its own request
    _, other_key = new_account(server, credits=100)
    with server.client(other_key) as o:
        mine = o.post(T2I, json={"model": "nano-banana", "prompt": "y"}, headers=headers)
        assert mine.status_code == 202 and mine.json()["id"] != task_id and "task_replayed" not in mine.json()


def test_concurrent_requests_with_one_key_create_one_task_and_charge_once(server):
    _, key = new_account(server, credits=100)
    answers: list = []
    start = threading.Barrier(8)

    def send():
        with server.client(key) as c:
            start.wait()
            answers.append(
                c.post(
                    T2I, json={"model": "nano-banana", "prompt": "race"}, headers={"Idempotency-Key": "contract-race"}
                )
            )

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert [a.status_code for a in answers] == [202] * 8
    assert len({a.json()["id"] for a in answers}) == 1
    assert sum(1 for a in answers if not a.json().get("task_replayed")) == 1
    with server.client(key) as c:
        wait_done(c, T2I, answers[0].json()["id"])
        assert balance(c) == 96


def test_a_request_with_an_integer_past_64_bits_is_a_422_not_a_500(api):
    # an integral float validates as an integer: int(1e30) does not fit 64 bits (found by the fuzzer)
    resp = api.post(
        f"{GROK}/extend_video",
        json={
            "source_task_id": str(uuid.uuid4()),
            "prompt": "x",
            "start_seconds": 1e30,
            "extension_duration_seconds": 6,
        },
        headers={"Idempotency-Key": "contract-bigint"},
    )
    assert resp.status_code == 422 and "start_seconds" in resp.json()["error"]


# ---------------------------------------------------------------- 2. headers


def test_create_carries_the_task_id_and_echoes_and_stores_the_client_request_id(server, api):
    rid = "order-42/attempt 1"
    resp = api.post(T2I, json={"model": "nano-banana", "prompt": "x"}, headers={"X-Client-Request-Id": rid})
    assert resp.status_code == 202
    task_id = resp.json()["id"]
    assert resp.headers["X-RunAPI-Task-Id"] == task_id
    assert resp.headers["X-Client-Request-Id"] == rid
    status = api.get(f"{T2I}/{task_id}")
    assert status.headers["X-RunAPI-Task-Id"] == task_id and status.headers["X-Client-Request-Id"] == rid

    row = server.db_call(lambda db: engine.get_task(db, task_id, 1))
    assert row.client_request_id == rid
    plain = api.post(T2I, json={"model": "nano-banana", "prompt": "x"})
    assert plain.headers["X-RunAPI-Task-Id"] == plain.json()["id"] and "X-Client-Request-Id" not in plain.headers


@pytest.mark.parametrize("value", ["a" * 513, b"caf\xe9"])
def test_a_bad_client_request_id_is_400(api, value):
    resp = api.post(T2I, json={"model": "nano-banana", "prompt": "x"}, headers={"X-Client-Request-Id": value})
    assert resp.status_code == 400
    assert resp.json() == {"error": "X-Client-Request-Id must be at most 512 printable ASCII characters"}


def test_a_processing_task_carries_retry_after_until_its_next_step(slow_server):
    with slow_server.client() as c:
        task_id = c.post(T2I, json={"model": "nano-banana", "prompt": "x"}).json()["id"]
        seen = set()
        deadline = time.time() + 20
        while time.time() < deadline:
            resp = c.get(f"{T2I}/{task_id}")
            if resp.json()["status"] != "processing":
                break
            seen.add(int(resp.headers["Retry-After"]))
            time.sleep(0.2)
        assert resp.json()["status"] == "completed" and "Retry-After" not in resp.headers
        assert seen and seen <= {1, 2}  # whole seconds, never past the sandbox's 2 s


def test_sdk_run_polls_by_retry_after(tmp_path, monkeypatch):
    """runapi-core polls every 2 s unless the status answer says Retry-After: an instant task now waits 1 s
    (the sandbox here delays 0.3 s, so the first poll surely sees it processing)."""
    nano = pytest.importorskip("runapi.nano_banana")
    from runapi.core import polling

    slept: list[float] = []

    class Clock:
        monotonic = staticmethod(time.monotonic)

        @staticmethod
        def sleep(seconds: float) -> None:
            slept.append(seconds)
            time.sleep(seconds)

    monkeypatch.setattr(polling, "time", Clock)
    srv = start_server(Path(tmp_path), sandbox_delay_seconds=0.3)
    try:
        client = nano.NanoBananaClient(api_key=srv.key, base_url=srv.url)
        result = client.text_to_image.run(model="nano-banana", prompt="quick")
        assert result.status == "completed"
    finally:
        srv.stop()
    # before: the first wait was the SDK's default 2 s; now every wait is the 1 s the server asks for
    assert slept and max(slept) <= 1, slept


# ---------------------------------------------------------------- 3. referenced tasks


def test_a_referenced_task_of_the_wrong_kind_is_422_naming_the_kind(api):
    song = api.post(
        f"{SUNO}/text_to_music", json={"vocal_mode": "instrumental", "style": "Jazz", "title": "T", "model": "suno-v4"}
    ).json()["id"]
    midi = api.post(f"{SUNO}/generate_midi", json={"task_id": song})
    assert midi.status_code == 422
    assert midi.json()["error"] == (
        f"task_id must name a suno/separate_audio_stems task (task {song} is a suno/text_to_music task)"
    )
    image = api.post(f"{GROK}/text_to_image", json={"model": "grok-imagine-text-to-image", "prompt": "x"}).json()["id"]
    up = api.post(f"{GROK}/upscale_image", json={"source_task_id": image})
    assert up.status_code == 422
    assert "grok_imagine/text_to_video, grok_imagine/image_to_video or grok_imagine/extend_video" in up.json()["error"]
    # a task that does not exist (here) is still not found
    missing = api.post(f"{SUNO}/generate_midi", json={"task_id": str(uuid.uuid4())})
    assert (missing.status_code, missing.json()) == (404, {"error": "Task not found"})


def test_an_unfinished_referenced_task_is_records_are_being_generated(slow_server):
    with slow_server.client() as c:
        before = balance(c)
        slow = c.post(f"{VEO}/text_to_video", json={"model": "veo-3.1", "prompt": "long"}).json()["id"]
        resp = c.post(f"{VEO}/extend_video", json={"source_task_id": slow, "prompt": "x"})
        assert (resp.status_code, resp.json()) == (422, {"error": "Records are being generated"})
        charged = before - balance(c)
        wait_done(c, f"{VEO}/text_to_video", slow)
        assert before - balance(c) == charged  # the refused chain charged nothing
