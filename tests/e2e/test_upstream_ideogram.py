"""Ideogram's own API as a media upstream, against a local fake speaking its protocol
(tests/support/fake_ideogram.py): every ideogram_v3 action completes through the public API with our input images
uploaded as file parts and the results served by us; a refused key, a 429 and a 5xx move to the next deployment;
a safety refusal (422 or withheld images) fails the task with Ideogram's message, refunded; what Ideogram cannot
take fails at once without a call."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.support.fake_ideogram import POLICY_ERROR, FakeIdeogram
from tests.support.fake_media import PNG
from tests.support.servers import new_account, start_server
from tests.support.upstream_e2e import balance, downloads, reset_cooldowns, run_on


@pytest.fixture(scope="module")
def fakes():
    f = SimpleNamespace(a=FakeIdeogram("ik-a"), b=FakeIdeogram("ik-b"))
    yield f
    f.a.stop()
    f.b.stop()


@pytest.fixture(scope="module")
def srv(fakes, tmp_path_factory):
    server = start_server(
        tmp_path_factory.mktemp("ideogram"),
        max_task_attempts=3,
        media_upstreams=[
            {"name": "ideogram-a", "kind": "ideogram", "base_url": fakes.a.url, "api_key": "ik-a"},
            {"name": "ideogram-b", "kind": "ideogram", "base_url": fakes.b.url, "api_key": "ik-b"},
        ],
    )
    yield server
    server.stop()


@pytest.fixture
def modes(fakes, srv):
    yield fakes
    for fake, key in ((fakes.a, "ik-a"), (fakes.b, "ik-b")):
        fake.mode, fake.api_key = "ok", key
    reset_cooldowns(srv)


@pytest.fixture
def host(recorder):
    return recorder(lambda m, p, h, b: (200, {"Content-Type": "image/png"}, PNG)).url


PROMPT = {"model": "ideogram-v3-text-to-image", "prompt": "a poster that reads OPEN", "aspect_ratio": "16:9"}


def test_every_action_completes_with_uploaded_inputs(srv, modes, host):
    requests = {
        "text_to_image": [
            PROMPT,
            {**PROMPT, "model": "ideogram-v3-character", "reference_image_urls": [f"{host}/c.png"], "output_count": 2},
        ],
        "edit_image": [
            {
                "model": "ideogram-v3-edit",
                "prompt": "a hat",
                "source_image_url": f"{host}/s.png",
                "mask_url": f"{host}/m.png",
            }
        ],
        "remix_image": [
            {
                "model": "ideogram-v3-remix",
                "prompt": "as a sphere",
                "source_image_url": f"{host}/s.png",
                "strength": 0.3,
            }
        ],
        "reframe_image": [
            {"model": "ideogram-v3-reframe", "source_image_url": f"{host}/s.png", "aspect_ratio": "9:16"}
        ],
    }
    before = len(modes.a.calls("POST"))
    with srv.client() as c:
        for action, bodies in requests.items():
            for body in bodies:
                _, done = run_on(c, "ideogram_v3", action, body)
                assert done["status"] == "completed", (action, done)
                assert downloads(srv, done, "images") == [PNG] * int(body.get("output_count", 1))
    calls = modes.a.calls("POST")[before:]
    assert [c["endpoint"] for c in calls] == [
        "ideogram-v3/generate",
        "ideogram-v3/generate",
        "ideogram-v3/edit",
        "ideogram-v3/remix",
        "ideogram-v3/reframe",
    ]
    assert modes.a.refused == [] and all(c["headers"]["api-key"] == "ik-a" for c in calls)
    assert calls[0]["body"] == {
        "prompt": "a poster that reads OPEN",
        "rendering_speed": "BALANCED",
        "aspect_ratio": "16x9",
    }
    assert calls[1]["files"] == {"character_reference_images": [PNG]} and calls[1]["body"]["num_images"] == 2
    assert calls[2]["files"] == {"image": [PNG], "mask": [PNG]}
    assert calls[3]["body"]["image_weight"] == 30
    assert calls[4]["body"]["resolution"] == "736x1312"


@pytest.mark.parametrize("failure", ["key", "429", "500"])
def test_a_failing_deployment_hands_the_task_to_the_next(srv, modes, failure):
    if failure == "key":
        modes.a.api_key = "another"
    else:
        modes.a.mode = failure
    tried, served = len(modes.a.calls("POST")), len(modes.b.calls("POST"))
    with srv.client() as c:
        _, body = run_on(c, "ideogram_v3", "text_to_image", PROMPT)
    assert body["status"] == "completed", body
    assert len(modes.a.calls("POST")) == tried + 1 and len(modes.b.calls("POST")) == served + 1
    assert modes.b.calls("POST")[-1]["headers"]["api-key"] == "ik-b"


@pytest.mark.parametrize(
    "mode, message", [("policy", POLICY_ERROR), ("unsafe", "The generated images failed Ideogram's safety check")]
)
def test_safety_refusals_fail_with_the_message_and_refund(srv, modes, mode, message):
    modes.a.mode = mode
    _, key = new_account(srv, credits=1000)
    before = len(modes.b.calls("POST"))
    with srv.client(key) as c:
        _, body = run_on(c, "ideogram_v3", "text_to_image", PROMPT)
    assert body["status"] == "failed" and body["error"] == message
    assert len(modes.b.calls("POST")) == before
    assert balance(srv, key) == 1000


def test_what_ideogram_cannot_take_fails_at_once_without_a_call(srv, modes, host):
    _, key = new_account(srv, credits=1000)
    before = len(modes.a.calls("POST")) + len(modes.b.calls("POST"))
    with srv.client(key) as c:
        _, body = run_on(
            c,
            "ideogram_v3",
            "reframe_image",
            {
                "model": "ideogram-v3-reframe",
                "source_image_url": f"{host}/s.png",
                "aspect_ratio": "1:1",
                "style": "design",
            },
        )
    assert body["status"] == "failed" and "style" in body["error"]
    assert len(modes.a.calls("POST")) + len(modes.b.calls("POST")) == before
    assert balance(srv, key) == 1000
