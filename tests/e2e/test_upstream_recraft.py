"""Recraft's own API as a media upstream, against a local fake speaking its protocol (tests/support/fake_recraft.py):
background removal and crisp upscale complete through the public API with our input image uploaded as a file
part and the result served by us (a link or an inline image); a refused key, a 429 and a 5xx move to the next
deployment; a request Recraft refuses fails with its message, refunded."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.support.fake_media import PNG
from tests.support.fake_recraft import TOO_LARGE, FakeRecraft
from tests.support.servers import new_account, start_server
from tests.support.upstream_e2e import balance, downloads, reset_cooldowns, run_on


@pytest.fixture(scope="module")
def fakes():
    f = SimpleNamespace(a=FakeRecraft("rk-a"), b=FakeRecraft("rk-b"))
    yield f
    f.a.stop()
    f.b.stop()


@pytest.fixture(scope="module")
def srv(fakes, tmp_path_factory):
    server = start_server(
        tmp_path_factory.mktemp("recraft"),
        max_task_attempts=3,
        media_upstreams=[
            {"name": "recraft-a", "kind": "recraft", "base_url": fakes.a.url, "api_key": "rk-a"},
            {"name": "recraft-b", "kind": "recraft", "base_url": fakes.b.url, "api_key": "rk-b"},
        ],
    )
    yield server
    server.stop()


@pytest.fixture
def modes(fakes, srv):
    yield fakes
    for fake, key in ((fakes.a, "rk-a"), (fakes.b, "rk-b")):
        fake.mode, fake.api_key = "ok", key
    reset_cooldowns(srv)


@pytest.fixture
def host(recorder):
    """Serves the input image on a private address: read by our input reader, uploaded to Recraft."""
    return recorder(lambda m, p, h, b: (200, {"Content-Type": "image/png"}, b"not an image" if "bad" in p else PNG)).url


@pytest.mark.parametrize(
    "action, model, endpoint",
    [
        ("remove_background", "recraft-remove-background", "images/removeBackground"),
        ("upscale_image", "recraft-crisp-upscale", "images/crispUpscale"),
    ],
)
@pytest.mark.parametrize("mode", ["ok", "inline"])
def test_both_tools_complete_with_the_uploaded_image(srv, modes, host, action, model, endpoint, mode):
    modes.a.mode = mode
    with srv.client() as c:
        _, body = run_on(c, "recraft", action, {"model": model, "source_image_url": f"{host}/in.png"})
    assert body["status"] == "completed", body
    assert downloads(srv, body, "images") == [PNG]
    call = modes.a.calls("POST")[-1]
    assert call["endpoint"] == endpoint and call["headers"]["authorization"] == "Bearer rk-a"
    assert call["body"] == {"response_format": "url", "image_format": "png", "image": "<file>"}
    assert call["files"] == {"image": PNG} and modes.a.refused == []


@pytest.mark.parametrize("failure", ["key", "429", "500"])
def test_a_failing_deployment_hands_the_task_to_the_next(srv, modes, host, failure):
    if failure == "key":
        modes.a.api_key = "another"
    else:
        modes.a.mode = failure
    tried, served = len(modes.a.calls("POST")), len(modes.b.calls("POST"))
    with srv.client() as c:
        _, body = run_on(
            c,
            "recraft",
            "remove_background",
            {"model": "recraft-remove-background", "source_image_url": f"{host}/x.png"},
        )
    assert body["status"] == "completed", body
    assert len(modes.a.calls("POST")) == tried + 1 and len(modes.b.calls("POST")) == served + 1


def test_an_input_that_is_not_an_image_fails_and_refunds_without_a_call(srv, modes, host):
    _, key = new_account(srv, credits=1000)
    before = len(modes.a.calls("POST")) + len(modes.b.calls("POST"))
    with srv.client(key) as c:
        _, body = run_on(
            c, "recraft", "upscale_image", {"model": "recraft-crisp-upscale", "source_image_url": f"{host}/bad.png"}
        )
    assert body["status"] == "failed" and "not a supported image" in body["error"]
    assert len(modes.a.calls("POST")) + len(modes.b.calls("POST")) == before
    assert balance(srv, key) == 1000


def test_a_request_recraft_refuses_fails_with_its_message_and_refunds(srv, modes, host):
    modes.a.mode = "refuse"
    _, key = new_account(srv, credits=1000)
    served = len(modes.b.calls("POST"))
    with srv.client(key) as c:
        _, body = run_on(
            c, "recraft", "upscale_image", {"model": "recraft-crisp-upscale", "source_image_url": f"{host}/big.png"}
        )
    assert body["status"] == "failed" and body["error"] == TOO_LARGE
    assert len(modes.b.calls("POST")) == served  # the request's fault: not shopped around
    assert balance(srv, key) == 1000
