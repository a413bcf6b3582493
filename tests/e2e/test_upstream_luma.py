"""Luma's own Dream Machine API as a media upstream, against a local fake speaking its protocol
(tests/support/fake_luma.py): luma/modify_video completes through the public API with the file served by us, and
Luma's callback reaches our signed wake-up link; a refused key, a 429, a 5xx and a generation Luma loses move to
the next deployment; a moderation refusal fails with Luma's reason, refunded; a slow generation is polled to the
end."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from tests.support.fake_luma import POLICY_REASON, FakeLuma
from tests.support.fake_media import MP4
from tests.support.servers import new_account, start_server
from tests.support.upstream_e2e import balance, downloads, reset_cooldowns, run_on, task_row

FAST = 0.05
BODY = {"prompt": "a rainy neon night", "source_video_url": "https://example.com/source.mp4", "watermark": "w"}


@pytest.fixture(scope="module")
def fakes():
    f = SimpleNamespace(a=FakeLuma("lk-a"), b=FakeLuma("lk-b"))
    yield f
    f.a.stop()
    f.b.stop()


@pytest.fixture(scope="module")
def srv(fakes, tmp_path_factory):
    base = "/dream-machine/v1"
    server = start_server(
        tmp_path_factory.mktemp("luma"),
        max_task_attempts=3,
        media_upstreams=[
            {
                "name": "luma-a",
                "kind": "luma",
                "base_url": fakes.a.url + base,
                "api_key": "lk-a",
                "poll_seconds": FAST,
                "webhooks": True,
            },
            {"name": "luma-b", "kind": "luma", "base_url": fakes.b.url + base, "api_key": "lk-b", "poll_seconds": FAST},
        ],
    )
    yield server
    server.stop()


@pytest.fixture
def modes(fakes, srv):
    yield fakes
    for fake, key in ((fakes.a, "lk-a"), (fakes.b, "lk-b")):
        fake.mode, fake.api_key = "ok", key
    reset_cooldowns(srv)


def test_modify_video_completes_and_luma_calls_our_link(srv, modes):
    with srv.client() as c:
        task_id, body = run_on(c, "luma", "modify_video", BODY)
    assert body["status"] == "completed" and downloads(srv, body, "videos") == [MP4]
    call = modes.a.calls("POST")[-1]
    assert call["path"] == "/dream-machine/v1/generations/video/modify"
    assert call["headers"]["authorization"] == "Bearer lk-a"
    hook = call["body"].pop("callback_url")
    assert hook.startswith(f"{srv.url}/webhooks/upstream/{task_id}?signature=")
    assert call["body"] == {
        "generation_type": "modify_video",
        "prompt": "a rainy neon night",
        "media": {"url": "https://example.com/source.mp4"},
        "mode": "flex_1",
        "model": "ray-2",
    }
    assert modes.a.refused == []
    for _ in range(100):  # the callback lands 0.3 s after the submission; our answer is recorded after
        if modes.a.callbacks:
            break
        time.sleep(0.05)
    assert modes.a.callbacks[-1] == 200  # our signed link accepted Luma's callback


def test_slow_generation_is_polled_to_the_end(srv, modes):
    modes.a.mode = "slow"
    before = len(modes.a.calls("GET", "/generations/"))
    with srv.client() as c:
        _, body = run_on(c, "luma", "modify_video", BODY)
    assert body["status"] == "completed"
    assert len(modes.a.calls("GET", "/generations/")) - before >= 4  # queued, dreaming x2, completed


@pytest.mark.parametrize("failure", ["key", "429", "500", "lost"])
def test_a_failing_deployment_hands_the_task_to_the_next(srv, modes, failure):
    if failure == "key":
        modes.a.api_key = "another"
    else:
        modes.a.mode = failure
    _, key = new_account(srv, credits=1000)
    with srv.client(key) as c:
        task_id, body = run_on(c, "luma", "modify_video", BODY)
    assert body["status"] == "completed", body
    job = task_row(srv, task_id)["provider_job"]
    assert job["deployment"] == "luma-b"
    assert job["tried"] == (["luma-a", "luma-b"] if failure == "lost" else ["luma-b"])
    assert modes.b.calls("POST")[-1]["headers"]["authorization"] == "Bearer lk-b"
    assert balance(srv, key) < 1000


def test_moderation_fails_with_lumas_reason_and_refunds(srv, modes):
    modes.a.mode = "policy"
    _, key = new_account(srv, credits=1000)
    before = len(modes.b.calls("POST"))
    with srv.client(key) as c:
        _, body = run_on(c, "luma", "modify_video", BODY)
    assert body["status"] == "failed" and body["error"] == POLICY_REASON
    assert len(modes.b.calls("POST")) == before
    assert balance(srv, key) == 1000
