"""Runway's own API as a media upstream, against a local fake speaking its protocol (tests/support/fake_runway.py):
our runway and runway_aleph actions complete through the public API with the files served by us; a refused key,
a 429 and a task Runway loses move to the next deployment; content moderation fails the task with Runway's
message, refunded; a slow task is polled to the end; what Runway cannot make fails at once without a call."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.support.fake_media import MP3, MP4, PNG
from tests.support.fake_runway import POLICY_FAILURE, FakeRunway
from tests.support.servers import new_account, start_server
from tests.support.upstream_e2e import balance, downloads, reset_cooldowns, run_on, task_row

FAST = 0.05


@pytest.fixture(scope="module")
def fakes():
    f = SimpleNamespace(a=FakeRunway("rw-a"), b=FakeRunway("rw-b"))
    yield f
    f.a.stop()
    f.b.stop()


@pytest.fixture(scope="module")
def srv(fakes, tmp_path_factory):
    server = start_server(
        tmp_path_factory.mktemp("runway"),
        max_task_attempts=3,
        media_upstreams=[
            {
                "name": "runway-a",
                "kind": "runway",
                "base_url": fakes.a.url + "/v1",
                "api_key": "rw-a",
                "poll_seconds": FAST,
            },
            {
                "name": "runway-b",
                "kind": "runway",
                "base_url": fakes.b.url + "/v1",
                "api_key": "rw-b",
                "poll_seconds": FAST,
            },
        ],
    )
    yield server
    server.stop()


@pytest.fixture
def modes(fakes, srv):
    yield fakes
    for fake, key in ((fakes.a, "rw-a"), (fakes.b, "rw-b")):
        fake.mode, fake.api_key = "ok", key
    reset_cooldowns(srv)


@pytest.fixture
def inputs_host(recorder):
    """Serves input files on a private address: the adapter must send them to Runway inline."""
    return recorder(
        lambda m, p, h, b: (
            (200, {"Content-Type": "video/mp4"}, MP4)
            if p.endswith(".mp4")
            else (200, {"Content-Type": "audio/mpeg"}, MP3)
            if p.endswith(".mp3")
            else (200, {"Content-Type": "image/png"}, PNG)
        )
    )


TEXT = {"prompt": "fog over the sea", "duration_seconds": 5, "output_resolution": "720p", "aspect_ratio": "16:9"}


def test_text_image_and_aleph_complete_with_our_links(srv, modes, inputs_host):
    elsewhere = len(modes.b.calls("POST"))
    with srv.client() as c:
        _, text = run_on(c, "runway", "text_to_video", TEXT)
        _, image = run_on(
            c,
            "runway",
            "text_to_video",
            {**TEXT, "aspect_ratio": None, "duration_seconds": 10, "first_frame_image_url": inputs_host.url + "/f.png"},
        )
        _, aleph = run_on(
            c,
            "runway_aleph",
            "edit_video",
            {"prompt": "watercolor", "source_video_url": inputs_host.url + "/s.mp4", "aspect_ratio": "9:16", "seed": 7},
        )
    for body in (text, image, aleph):
        assert body["status"] == "completed", body
        assert downloads(srv, body, "videos") == [MP4]
    t2v, i2v, v2v = modes.a.calls("POST")[-3:]
    assert t2v["path"] == "/v1/text_to_video" and t2v["headers"]["x-runway-version"] == "2024-11-06"
    assert t2v["body"] == {"model": "gen4.5", "promptText": "fog over the sea", "duration": 5, "ratio": "1280:720"}
    assert i2v["path"] == "/v1/image_to_video" and i2v["body"]["model"] == "gen4_turbo"
    assert i2v["body"]["ratio"] == "960:960" and i2v["body"]["duration"] == 10  # the 8x8 frame is square
    assert i2v["body"]["promptImage"].startswith("data:image/png;base64,")  # a private link goes inline
    assert v2v["path"] == "/v1/video_to_video" and v2v["body"]["videoUri"].startswith("data:video/mp4;base64,")
    assert {k: v for k, v in v2v["body"].items() if k != "videoUri"} == {
        "model": "aleph2",
        "promptText": "watercolor",
        "targetAspectRatio": "9:16",
        "seed": 7,
    }
    assert modes.a.refused == [] and len(modes.b.calls("POST")) == elsewhere


def test_slow_task_is_polled_through_pending_throttled_running(srv, modes):
    modes.a.mode = "slow"
    before = len(modes.a.calls("GET", "/v1/tasks/"))
    with srv.client() as c:
        task_id, body = run_on(c, "runway", "text_to_video", TEXT)
    assert body["status"] == "completed"
    assert len(modes.a.calls("GET", "/v1/tasks/")) - before >= 4  # PENDING, THROTTLED, RUNNING, then SUCCEEDED
    assert task_row(srv, task_id)["provider_job"]["deployment"] == "runway-a"


@pytest.mark.parametrize("failure", ["key", "429", "500", "lost"])
def test_a_failing_deployment_hands_the_task_to_the_next(srv, modes, failure):
    if failure == "key":
        modes.a.api_key = "another"  # our key is refused: 401
    else:
        modes.a.mode = failure
    _, key = new_account(srv, credits=1000)
    with srv.client(key) as c:
        task_id, body = run_on(c, "runway", "text_to_video", TEXT)
    assert body["status"] == "completed", body
    job = task_row(srv, task_id)["provider_job"]
    assert job["deployment"] == "runway-b"
    assert job["tried"] == (["runway-a", "runway-b"] if failure == "lost" else ["runway-b"])
    assert modes.b.calls("POST")[-1]["headers"]["authorization"] == "Bearer rw-b"
    assert balance(srv, key) < 1000


def test_content_moderation_fails_with_runways_message_and_refunds(srv, modes):
    modes.a.mode = "policy"
    _, key = new_account(srv, credits=1000)
    before = len(modes.b.calls("POST"))
    with srv.client(key) as c:
        _, body = run_on(c, "runway", "text_to_video", TEXT)
    assert body["status"] == "failed" and body["error"] == POLICY_FAILURE
    assert len(modes.b.calls("POST")) == before  # a refusal is not shopped around
    assert balance(srv, key) == 1000


def test_what_runway_cannot_make_fails_at_once_without_a_call(srv, modes):
    _, key = new_account(srv, credits=1000)
    before = len(modes.a.calls("POST")) + len(modes.b.calls("POST"))
    with srv.client(key) as c:
        _, body = run_on(c, "runway", "text_to_video", {**TEXT, "output_resolution": "1080p"})
    assert body["status"] == "failed" and "720p" in body["error"]
    assert len(modes.a.calls("POST")) + len(modes.b.calls("POST")) == before
    assert balance(srv, key) == 1000
