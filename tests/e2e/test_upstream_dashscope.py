"""Alibaba Cloud Model Studio (DashScope) as a media upstream, against the local fake speaking its protocol
(tests/support/fake_dashscope.py, which checks every body against Model Studio's transcribed schemas): every
mapped pair completes through the public API with our own signed links (async video/image tasks and the
synchronous multimodal models); a wrong key, a 429, a lost task hand the job to the next deployment; a
content-policy refusal fails the task with Model Studio's message and refunds it; a value Model Studio cannot
make fails at once without a submission; a slow task is polled until done."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.support.fake_dashscope import POLICY_MESSAGE, FakeDashScope, dashscope_requests, with_defaults
from tests.support.fake_media import MP4, PNG
from tests.support.servers import new_account, start_server
from tests.support.upstream_e2e import (
    balance,
    cooled_down,
    create,
    deployment,
    downloads,
    finish,
    policy_refusal,
    reset_cooldowns,
    serve,
    slow_job,
)


@pytest.fixture(scope="module")
def fakes():
    f = SimpleNamespace(primary=FakeDashScope("sk-primary"), backup=FakeDashScope("sk-backup"))
    yield f
    for server in vars(f).values():
        server.stop()


@pytest.fixture(scope="module")
def srv(fakes, tmp_path_factory):
    primary, backup = fakes.primary.url + "/api/v1", fakes.backup.url + "/api/v1"
    server = serve(
        tmp_path_factory,
        "dashscope",
        [
            # a deployment whose key Model Studio refuses: its jobs go to the next one
            deployment("ds-stale-key", "dashscope", primary, "sk-revoked", models=["qwen-2-text-to-image"]),
            deployment("ds-primary", "dashscope", primary, "sk-primary"),
            deployment("ds-backup", "dashscope", backup, "sk-backup"),
        ],
    )
    yield server
    server.stop()


@pytest.fixture
def modes(fakes, srv):
    yield fakes
    for server in vars(fakes).values():
        server.mode = "ok"
    fakes.primary.slow_polls = 3
    reset_cooldowns(srv)


def served(action, model: str, body: dict) -> bool:
    from runapi.providers.upstream.dashscope import dashscope_table

    route = dashscope_table().get(action.key, model).route(with_defaults(action, model, body), model)
    return route.refuse is None


def test_every_mapped_pair_completes_with_our_signed_links(srv, modes):
    started = []
    with srv.client() as c:
        for action, model, body in dashscope_requests():
            if served(action, model, body):
                started.append((action, body, create(c, action.family, action.name, body)))
        for action, body, task_id in started:
            result = finish(c, action.family, action.name, task_id)
            assert result["status"] == "completed", (action.key, body, result, modes.primary.refused[-1:])
            expected = MP4 if action.result == "videos" else PNG
            assert downloads(srv, result, action.result)[0] == expected
    assert not modes.primary.refused and not modes.backup.refused
    models = {call["body"]["model"] for call in modes.primary.calls("POST", "/services/")}
    assert {"wan2.7-r2v", "wan2.7-videoedit", "wan2.6-t2v", "wan2.7-image-pro", "qwen-image-edit-plus"} <= models
    assert {"z-image-turbo", "wan2.5-i2v-preview", "wan2.6-i2v-flash", "qwen-image", "wan2.2-animate-mix"} <= models
    submitted = modes.primary.calls("POST", "/video-synthesis")[-1]
    assert submitted["headers"]["authorization"] == "Bearer sk-primary"
    assert submitted["headers"]["x-dashscope-async"] == "enable"


def test_a_value_model_studio_cannot_make_fails_at_once_and_refunds(srv, modes):
    _, key = new_account(srv, credits=1000)
    before = len(modes.primary.requests) + len(modes.backup.requests)
    with srv.client(key) as c:
        body = {"model": "wan-2.7-text-to-video", "prompt": "a fox", "ratio": "21:9"}
        result = finish(c, "wan", "text_to_video", create(c, "wan", "text_to_video", body))
    assert result["status"] == "failed" and "ratio 16:9, 9:16, 1:1, 4:3 or 3:4" in result["error"]
    assert len(modes.primary.requests) + len(modes.backup.requests) == before  # nothing was sent
    assert balance(srv, key) == 1000


def test_a_refused_key_hands_the_job_to_the_next_deployment(srv, modes):
    with srv.client() as c:
        task_id = create(c, "qwen_2", "text_to_image", {"model": "qwen-2-text-to-image", "prompt": "a fox"})
        assert finish(c, "qwen_2", "text_to_image", task_id)["status"] == "completed"
    keys = [call["headers"]["authorization"] for call in modes.primary.calls("POST", "/image-synthesis")[-2:]]
    assert keys == ["Bearer sk-revoked", "Bearer sk-primary"]


@pytest.mark.parametrize(
    ("family", "action", "body"),
    [
        ("wan", "text_to_video", {"model": "wan-2.7-text-to-video", "prompt": "forbidden", "ratio": "1:1"}),
        ("z_image", "text_to_image", {"model": "z-image", "prompt": "forbidden", "aspect_ratio": "1:1"}),
    ],
)
def test_content_policy_refusal_fails_with_the_message_and_refunds(srv, modes, family, action, body):
    assert policy_refusal(srv, modes, family, action, body)["error"] == POLICY_MESSAGE


def test_rate_limited_submission_cools_down_and_falls_back(srv, modes):
    body = {"model": "wan-2.6-text-to-video", "prompt": "a fox", "aspect_ratio": "16:9"}
    cooled_down(srv, modes, "wan", "text_to_video", body)
    assert modes.backup.calls("POST", "/video-synthesis")[-1]["headers"]["authorization"] == "Bearer sk-backup"


@pytest.mark.parametrize("failure", ["lost", "500"])
def test_a_lost_or_failing_job_moves_to_the_next_deployment(srv, modes, failure):
    modes.primary.mode = failure
    before = len(modes.backup.calls("POST"))
    with srv.client() as c:
        body = {"model": "wan-2.7-image", "prompt": "a fox", "aspect_ratio": "4:3", "output_resolution": "1k"}
        result = finish(c, "wan", "text_to_image", create(c, "wan", "text_to_image", body))
    assert result["status"] == "completed"
    assert len(modes.backup.calls("POST")) == before + 1
    assert modes.backup.calls("POST")[-1]["body"]["parameters"]["size"] == "1168*880"


def test_a_slow_task_is_polled_until_it_succeeds(srv, modes):
    body = {"model": "wan-2.6-image-to-video", "prompt": "go", "first_frame_image_url": "https://example.com/a.png"}
    slow_job(srv, modes, "wan", "image_to_video", body)
    tid = max(modes.primary.tasks, key=lambda t: modes.primary.tasks[t]["polls"])
    assert modes.primary.tasks[tid]["polls"] >= 5


def test_a_timed_out_task_cancels_its_model_studio_task_and_is_refunded(tmp_path):
    stuck = FakeDashScope("sk-stuck")
    stuck.mode, stuck.slow_polls = "slow", 10**6  # never finishes
    server = start_server(
        tmp_path,
        task_timeout_seconds=1.0,
        media_upstreams=[
            {
                "name": "ds-stuck",
                "kind": "dashscope",
                "base_url": stuck.url + "/api/v1",
                "api_key": "sk-stuck",
                "poll_seconds": 0.2,
            }
        ],
    )
    try:
        _, key = new_account(server, credits=1000)
        with server.client(key) as c:
            body = {"model": "wan-2.7-image", "prompt": "a fox", "aspect_ratio": "1:1"}
            result = finish(c, "wan", "text_to_image", create(c, "wan", "text_to_image", body))
        assert result["status"] == "failed" and result["error"] == "Task timed out"
        (cancel,) = stuck.calls("POST", "/cancel")
        assert cancel["headers"]["authorization"] == "Bearer sk-stuck"
        assert next(iter(stuck.tasks.values()))["cancelled"] is True
        assert balance(server, key) == 1000
    finally:
        server.stop()
        stuck.stop()
