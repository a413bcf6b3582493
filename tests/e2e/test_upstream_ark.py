"""ModelArk deployments (kind `ark`) against two local fakes speaking its protocol (tests/support/fake_ark.py), through
the public API: every request ark_models.yaml serves completes with files we store and sign (the fake checks every
body against ModelArk's schema for its model); a refused key, a rate limit, a lost task move the job to the next
deployment; a content-policy refusal fails the task with ModelArk's reason and refunds it; a slow task is polled to
its end; a request ModelArk cannot honour fails at once without a call."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import pytest

from runapi.providers.upstream.ark import ark_table
from tests.support.fake_ark import POLICY_CODE, FakeArk
from tests.support.fake_media import MP4, PNG
from tests.support.servers import new_account
from tests.support.upstream_e2e import (
    balance,
    cooled_down,
    create,
    deployment,
    downloads,
    finish,
    lost_job_moves_on,
    policy_refusal,
    reset_cooldowns,
    serve,
    slow_job,
    task_row,
)
from tests.support.upstream_examples import ARK_REFUSALS, ark_requests, route_of

SEEDANCE_2 = {
    "model": "seedance-2.0",
    "prompt": "A red fox in the snow",
    "duration_seconds": 5,
    "output_resolution": "720p",
}
SEEDREAM = {"model": "seedream-4.5-text-to-image", "prompt": "A fox", "aspect_ratio": "16:9", "output_quality": "basic"}


@pytest.fixture(scope="module")
def fakes():
    f = SimpleNamespace(primary=FakeArk("k-primary"), backup=FakeArk("k-backup"))
    yield f
    for server in vars(f).values():
        server.stop()


@pytest.fixture(scope="module")
def srv(fakes, tmp_path_factory):
    server = serve(
        tmp_path_factory,
        "ark",
        [
            deployment("ark-primary", "ark", fakes.primary.url + "/api/v3", "k-primary"),
            deployment("ark-backup", "ark", fakes.backup.url + "/api/v3", "k-backup"),
        ],
    )
    yield server
    server.stop()


@pytest.fixture
def modes(fakes, srv):
    yield fakes
    for fake, key in ((fakes.primary, "k-primary"), (fakes.backup, "k-backup")):
        fake.mode, fake.key, fake.slow_polls = "ok", key, 3
    reset_cooldowns(srv)


def test_every_ark_route_completes_with_our_signed_links(srv, modes):
    started = []
    with srv.client() as c:
        for action, model, body in ark_requests():
            if route_of(ark_table(), action, model, body).refuse is None:
                started.append((action, model, body, create(c, action.family, action.name, body)))
        for action, model, body, task_id in started:
            result = finish(c, action.family, action.name, task_id)
            assert result["status"] == "completed", (action.key, body, result, modes.primary.refused[-1:])
            assert downloads(srv, result, action.result)[0] == (MP4 if action.result == "videos" else PNG)
            if action.result == "videos":  # a synchronous image leaves no job behind
                assert task_row(srv, task_id)["provider_job"]["deployment"] == "ark-primary"
    models = {call["body"]["model"] for call in modes.primary.calls("POST")}
    for action, model, body, _ in started:
        assert route_of(ark_table(), action, model, body).app in models
    assert not modes.primary.refused
    assert all(
        call["headers"]["authorization"] == "Bearer k-primary"
        for call in modes.primary.requests
        if "/api/" in call["path"]
    )


def test_the_fake_refuses_like_modelark(modes):
    url, auth = modes.primary.url + "/api/v3", {"Authorization": "Bearer k-primary"}
    r = httpx.post(f"{url}/contents/generations/tasks", json={"model": "nope", "content": []}, headers=auth)
    assert r.status_code == 404 and r.json()["error"]["code"] == "ModelNotOpen"
    bad = {"model": "dreamina-seedance-2-0-260128", "content": [{"type": "text", "text": "x"}], "seed": 1}
    r = httpx.post(f"{url}/contents/generations/tasks", json=bad, headers=auth)
    assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidParameter"
    r = httpx.post(
        f"{url}/images/generations", json={"model": "seedream-4-5-251128", "prompt": "x", "size": "1K"}, headers=auth
    )
    assert r.status_code == 400 and r.json()["error"]["param"] == "size"
    r = httpx.post(f"{url}/images/generations", json={"model": "seedream-4-5-251128", "prompt": "x"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "AuthenticationError"


def test_seedance_body_reaches_modelark_as_documented(srv, modes):
    body = {
        "model": "seedance-v1-pro",
        "prompt": "Waves at a lighthouse",
        "first_frame_image_url": "https://example.com/l.png",
        "duration_seconds": 10,
        "output_resolution": "1080p",
        "seed": 42,
        "lock_camera": True,
    }
    with srv.client() as c:
        assert (
            finish(c, "seedance", "text_to_video", create(c, "seedance", "text_to_video", body))["status"]
            == "completed"
        )
    assert modes.primary.calls("POST")[-1]["body"] == {
        "model": "seedance-1-0-pro-250528",
        "content": [
            {"type": "text", "text": "Waves at a lighthouse"},
            {"type": "image_url", "image_url": {"url": "https://example.com/l.png"}, "role": "first_frame"},
        ],
        "duration": 10,
        "resolution": "1080p",
        "watermark": False,
        "seed": 42,
        "camera_fixed": True,
    }


def test_a_refused_key_moves_the_job_to_the_next_deployment(srv, modes):
    modes.primary.key = "rotated"  # our configured key no longer works there
    before = len(modes.backup.calls("POST"))
    with srv.client() as c:
        images = create(c, "seedream", "text_to_image", SEEDREAM)
        assert finish(c, "seedream", "text_to_image", images)["status"] == "completed"
        video = create(c, "seedance", "text_to_video", SEEDANCE_2)
        assert finish(c, "seedance", "text_to_video", video)["status"] == "completed"
    assert len(modes.backup.calls("POST")) == before + 2
    assert modes.primary.calls("POST")[-1]["headers"]["authorization"] == "Bearer k-primary"
    assert task_row(srv, video)["provider_job"]["deployment"] == "ark-backup"


def test_a_rate_limited_deployment_cools_down_and_the_next_serves(srv, modes):
    second = cooled_down(srv, modes, "seedance", "text_to_video", SEEDANCE_2)
    assert task_row(srv, second)["provider_job"]["deployment"] == "ark-backup"


def test_a_task_lost_at_modelark_moves_to_the_next_deployment(srv, modes):
    lost_job_moves_on(srv, modes, "seedance", "text_to_video", SEEDANCE_2, ["ark-primary", "ark-backup"])


@pytest.mark.parametrize(
    ("family", "action", "body", "reason"),
    [
        ("seedance", "text_to_video", SEEDANCE_2, POLICY_CODE),
        ("seedream", "text_to_image", SEEDREAM, "InputTextSensitiveContentDetected"),
    ],
)
def test_a_content_policy_refusal_fails_with_the_reason_and_refunds(srv, modes, family, action, body, reason):
    before = len(modes.backup.requests)
    assert reason in policy_refusal(srv, modes, family, action, body)["error"]
    assert len(modes.backup.requests) == before  # not even asked about anything


def test_a_slow_task_is_polled_until_it_succeeds(srv, modes):
    task_id = slow_job(srv, modes, "seedance", "text_to_video", SEEDANCE_2)
    tid = task_row(srv, task_id)["provider_job"]["handle"]["task_id"]
    assert len(modes.primary.calls("GET", tid)) >= 5


@pytest.mark.parametrize(("family", "action", "body", "message"), ARK_REFUSALS[:2])
def test_what_no_deployment_can_make_fails_at_once_without_a_call(srv, modes, family, action, body, message):
    _, key = new_account(srv, credits=1000)
    before = len(modes.primary.requests) + len(modes.backup.requests)
    with srv.client(key) as c:
        result = finish(c, family, action, create(c, family, action, body))
    assert result["status"] == "failed" and result["error"].startswith(message)
    assert len(modes.primary.requests) + len(modes.backup.requests) == before
    assert balance(srv, key) == 1000
