"""Kling's own API as a media upstream, against a local fake speaking Kling's protocol (tests/support/fake_kling.py:
JWT checked, every body checked against Kling's published contract): every route of kling_models.yaml completes
through the public API with our own signed links; a refused key, a 429, a lost job move to the next deployment;
a content-policy refusal fails the task with Kling's message and refunds; a slow job is polled to the end; an
input Kling cannot make fails without a call."""

from __future__ import annotations

from types import SimpleNamespace

import jwt
import pytest

from runapi.providers.upstream.kling import Kling
from tests.support.fake_kling import FakeKling
from tests.support.fake_media import MP4
from tests.support.first_party import has_task_ref, routed, table_requests
from tests.support.servers import new_account
from tests.support.upstream_e2e import (
    balance,
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
from tests.unit.test_upstream_kling import EXTRA

SECRET = "sk-" + "fedcba9876543210" * 2
MASTER = {"model": "kling-v2.1-master-text-to-video", "prompt": "a fox", "duration_seconds": 5}


@pytest.fixture(scope="module")
def fakes():
    f = SimpleNamespace(primary=FakeKling("ak-primary", SECRET), backup=FakeKling("ak-backup", SECRET))
    yield f
    for server in vars(f).values():
        server.stop()


@pytest.fixture(scope="module")
def srv(fakes, tmp_path_factory):
    def kling(name, fake, access, **kw):
        return deployment(name, "kling", fake.url, f"{access}:{SECRET}", **kw)

    server = serve(
        tmp_path_factory,
        "kling",
        [
            # a key the primary does not know, for one model only: its tasks go there first
            kling("kling-badkey", fakes.primary, "ak-unknown", models=["kling-v2.1-master-text-to-video"]),
            kling("kling-primary", fakes.primary, "ak-primary"),
            kling("kling-backup", fakes.backup, "ak-backup"),
        ],
    )
    yield server
    server.stop()


@pytest.fixture
def modes(fakes, srv):
    yield fakes
    for fake in vars(fakes).values():
        fake.mode = "ok"
    reset_cooldowns(srv)


def test_every_kling_route_completes_with_our_signed_links(srv, modes):
    table = Kling.bundled()
    started = []
    with srv.client() as c:
        for action, model, body in table_requests(table, EXTRA):
            route, _ = routed(table, action, model, body)
            if route.refuse or has_task_ref(action):
                continue
            started.append((action, route, create(c, action.family, action.name, body)))
        for action, route, task_id in started:
            result = finish(c, action.family, action.name, task_id)
            assert result["status"] == "completed", (action.key, result, modes.primary.refused[-1:])
            assert downloads(srv, result, "videos") == [MP4]
    endpoints = {call["endpoint"] for call in modes.primary.calls("POST")}
    assert {route.app for _, route, _ in started} <= endpoints
    assert not modes.primary.refused and not modes.backup.refused


def test_the_body_and_token_are_klings(srv, modes):
    with srv.client() as c:
        task_id = create(
            c,
            "kling",
            "text_to_video",
            {"model": "kling-v2.6", "prompt": "waves", "mode": "pro", "enable_sound": True, "duration_seconds": 10},
        )
        assert finish(c, "kling", "text_to_video", task_id)["status"] == "completed"
    call = modes.primary.calls("POST", "/text2video")[-1]
    assert call["body"] == {
        "model_name": "kling-v2-6",
        "prompt": "waves",
        "mode": "pro",
        "sound": "on",
        "duration": "10",
        "aspect_ratio": "16:9",
    }
    token = call["headers"]["authorization"].removeprefix("Bearer ")
    assert jwt.decode(token, SECRET, algorithms=["HS256"])["iss"] == "ak-primary"
    polls = modes.primary.calls("GET", "/v1/videos/text2video/")
    assert polls and task_row(srv, task_id)["provider_job"]["handle"]["path"] == "/v1/videos/text2video"


def test_a_refused_key_moves_to_the_next_deployment(srv, modes):
    with srv.client() as c:
        task_id = create(c, "kling", "text_to_video", MASTER)
        assert finish(c, "kling", "text_to_video", task_id)["status"] == "completed"
    row = task_row(srv, task_id)
    assert row["provider"] == "kling-badkey" and row["provider_job"]["deployment"] == "kling-primary"


@pytest.mark.parametrize("failure", ["500", "429"])
def test_a_failing_or_busy_deployment_hands_over(srv, modes, failure):
    modes.primary.mode = failure
    before = len(modes.backup.calls("POST"))
    with srv.client() as c:
        task_id = create(c, "kling", "text_to_video", {"model": "kling-v2.6", "prompt": "a fox"})
        assert finish(c, "kling", "text_to_video", task_id)["status"] == "completed"
        if failure == "429":  # Retry-After: 30 keeps the primary aside for the next task too
            refused = len(modes.primary.calls("POST"))
            modes.primary.mode = "ok"
            second = create(c, "kling", "text_to_video", {"model": "kling-v2.6", "prompt": "a cat"})
            assert finish(c, "kling", "text_to_video", second)["status"] == "completed"
            assert len(modes.primary.calls("POST")) == refused
    assert len(modes.backup.calls("POST")) == before + (2 if failure == "429" else 1)
    assert task_row(srv, task_id)["provider_job"]["deployment"] == "kling-backup"


def test_a_job_lost_at_kling_moves_to_the_next_deployment(srv, modes):
    body = {"model": "kling-v2.6", "prompt": "a fox"}
    lost_job_moves_on(srv, modes, "kling", "text_to_video", body, ["kling-primary", "kling-backup"])


def test_a_content_policy_refusal_fails_with_klings_message_and_refunds(srv, modes):
    body = policy_refusal(srv, modes, "kling", "text_to_video", {"model": "kling-v2.6", "prompt": "forbidden"})
    assert body["error"] == "Trigger the content security policy of the platform (code 1301)"


def test_a_slow_job_is_polled_until_it_succeeds(srv, modes):
    body = {"model": "kling-v2.1-standard", "prompt": "wind", "first_frame_image_url": "https://example.com/a.png"}
    task_id = slow_job(srv, modes, "kling", "image_to_video", body)
    job = task_row(srv, task_id)["provider_job"]["handle"]
    assert len(modes.primary.calls("GET", f"/image2video/{job['task_id']}")) >= 5


def test_an_input_kling_cannot_make_fails_without_a_call_and_refunds(srv, modes):
    _, key = new_account(srv, credits=1000)
    before = len(modes.primary.calls("POST")) + len(modes.backup.calls("POST"))
    with srv.client(key) as c:
        task_id = create(
            c, "kling", "text_to_video", {"model": "kling-v3-omni", "prompt": "a fox", "output_resolution": "4k"}
        )
        body = finish(c, "kling", "text_to_video", task_id)
    assert body["status"] == "failed" and "not 4k" in body["error"]
    assert len(modes.primary.calls("POST")) + len(modes.backup.calls("POST")) == before
    assert balance(srv, key) == 1000
