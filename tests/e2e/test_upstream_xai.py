"""xAI's Grok Imagine API as a media upstream, against a local fake speaking xAI's protocol
(tests/support/fake_xai.py: key checked, every body checked against xAI's contract): every route of xai_models.yaml
completes through the public API (images at once, videos polled) with our own signed links; a text_to_image task's
image reaches xAI as our signed link; a refused key, an outage, a 429 and an expired job move to the next
deployment; a content-policy refusal fails the task with xAI's message and refunds; a slow job is polled to the
end; what xAI cannot make fails without a call."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import pytest

from runapi.providers.upstream.xai import XAI
from tests.support.fake_media import MP4, PNG
from tests.support.fake_xai import POLICY, FakeXAI
from tests.support.first_party import has_task_ref, routed, table_requests
from tests.support.servers import new_account
from tests.support.upstream_e2e import (
    balance,
    create,
    deployment,
    downloads,
    finish,
    handed_over,
    policy_refusal,
    reset_cooldowns,
    serve,
    slow_job,
    task_row,
)
from tests.unit.test_upstream_xai import EXTRA, T2V

VIDEO = {**T2V, "duration_seconds": 6}


@pytest.fixture(scope="module")
def fakes():
    f = SimpleNamespace(primary=FakeXAI("xai-primary"), backup=FakeXAI("xai-backup"))
    yield f
    for server in vars(f).values():
        server.stop()


@pytest.fixture(scope="module")
def srv(fakes, tmp_path_factory):
    def xai(name, fake, key, **kw):
        return deployment(name, "xai", fake.url + "/v1", key, **kw)

    server = serve(
        tmp_path_factory,
        "xai",
        [
            xai("xai-badkey", fakes.primary, "xai-wrong", models=["grok-imagine-edit-image"]),
            xai("xai-primary", fakes.primary, "xai-primary"),
            xai("xai-backup", fakes.backup, "xai-backup"),
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


def test_every_xai_route_completes_with_our_signed_links(srv, modes):
    table = XAI.bundled()
    started = []
    with srv.client() as c:
        for action, model, body in table_requests(table, EXTRA):
            if routed(table, action, model, body)[0].refuse or has_task_ref(action):
                continue
            started.append((action, body, create(c, action.family, action.name, body)))
        for action, body, task_id in started:
            result = finish(c, action.family, action.name, task_id)
            assert result["status"] == "completed", (action.key, body, result, modes.primary.refused[-1:])
            kind, expected = ("videos", MP4) if action.result == "videos" else ("images", PNG)
            assert set(downloads(srv, result, kind)) == {expected}
    assert not modes.primary.refused and not modes.backup.refused


def test_a_generated_image_is_animated_through_our_signed_link(srv, modes):
    with srv.client() as c:
        source = create(c, "grok_imagine", "text_to_image", {"model": "grok-imagine-text-to-image", "prompt": "a fox"})
        made = finish(c, "grok_imagine", "text_to_image", source)
        assert made["status"] == "completed" and len(made["images"]) == 6
        task_id = create(
            c,
            "grok_imagine",
            "image_to_video",
            {
                "model": "grok-imagine-image-to-video",
                "source_task_id": source,
                "index": 2,
                "duration_seconds": 6,
                "prompt": "it runs",
            },
        )
        assert finish(c, "grok_imagine", "image_to_video", task_id)["status"] == "completed"
    images = modes.primary.calls("POST", "/images/generations")[-1]
    assert images["headers"]["authorization"] == "Bearer xai-primary"
    assert images["body"] == {
        "model": "grok-imagine-image",
        "prompt": "a fox",
        "aspect_ratio": "1:1",
        "n": 6,
        "response_format": "b64_json",
    }
    video = modes.primary.calls("POST", "/videos/generations")[-1]["body"]
    assert video["model"] == "grok-imagine-video" and video["duration"] == 6
    link = video["image"]["url"]
    assert link.startswith(srv.url + "/files/generated/" + source) and httpx.get(link).content == PNG


def test_a_refused_key_moves_to_the_next_deployment(srv, modes):
    with srv.client() as c:
        task_id = create(
            c,
            "grok_imagine",
            "edit_image",
            {"model": "grok-imagine-edit-image", "source_image_url": "https://example.com/a.png", "prompt": "blue"},
        )
        body = finish(c, "grok_imagine", "edit_image", task_id)
    assert body["status"] == "completed" and downloads(srv, body, "images") == [PNG]
    edit = modes.primary.calls("POST", "/images/edits")[-1]
    assert edit["headers"]["authorization"] == "Bearer xai-primary"
    assert edit["body"]["image"] == {"url": "https://example.com/a.png", "type": "image_url"}


@pytest.mark.parametrize("failure", ["500", "429", "lost"])
def test_failures_hand_the_task_to_the_next_deployment(srv, modes, failure):
    handed_over(srv, modes, failure, "grok_imagine", "text_to_video", VIDEO, ("xai-primary", "xai-backup"))


def test_a_content_policy_refusal_fails_with_xais_message_and_refunds(srv, modes):
    assert policy_refusal(srv, modes, "grok_imagine", "text_to_video", VIDEO)["error"] == POLICY


def test_a_slow_job_is_polled_until_it_succeeds(srv, modes):
    task_id = slow_job(srv, modes, "grok_imagine", "text_to_video", VIDEO)
    request_id = task_row(srv, task_id)["provider_job"]["handle"]["request_id"]
    assert len(modes.primary.calls("GET", f"/v1/videos/{request_id}")) >= 5


def test_what_xai_cannot_make_fails_without_a_call_and_refunds(srv, modes):
    _, key = new_account(srv, credits=1000)
    before = len(modes.primary.calls("POST")) + len(modes.backup.calls("POST"))
    with srv.client(key) as c:
        task_id = create(c, "grok_imagine", "text_to_video", {**T2V, "duration_seconds": 20})
        body = finish(c, "grok_imagine", "text_to_video", task_id)
    assert body["status"] == "failed" and body["error"] == "xAI's API makes videos of 1 to 15 seconds"
    assert len(modes.primary.calls("POST")) + len(modes.backup.calls("POST")) == before
    assert balance(srv, key) == 1000
