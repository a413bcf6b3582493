"""Black Forest Labs deployments (kind `bfl`) against two local fakes speaking its protocol (tests/support/fake_bfl.py),
through the public API: every request bfl_models.yaml serves completes with files we store and sign (the fake checks
every body against BFL's schema for its endpoint); a refused key, exhausted credits, too many active tasks and a lost
task move the job to the next deployment; moderation fails the task and refunds it; a slow task is polled to its
end; a polling URL on another host never receives our key."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import pytest

from runapi.providers.upstream.bfl import bfl_table
from tests.support.fake_bfl import FakeBFL
from tests.support.fake_media import PNG
from tests.support.servers import new_account
from tests.support.upstream_e2e import (
    balance,
    create,
    deployment,
    downloads,
    finish,
    lost_job_moves_on,
    reset_cooldowns,
    serve,
    slow_job,
    task_row,
)
from tests.support.upstream_examples import bfl_requests, route_of

KONTEXT = {"model": "flux-kontext-pro", "prompt": "A lighthouse at night", "aspect_ratio": "16:9"}


@pytest.fixture(scope="module")
def fakes():
    f = SimpleNamespace(primary=FakeBFL("k-primary"), backup=FakeBFL("k-backup"))
    yield f
    for server in vars(f).values():
        server.stop()


@pytest.fixture(scope="module")
def srv(fakes, tmp_path_factory):
    server = serve(
        tmp_path_factory,
        "bfl",
        [
            deployment("bfl-primary", "bfl", fakes.primary.url + "/v1", "k-primary"),
            deployment("bfl-backup", "bfl", fakes.backup.url + "/v1", "k-backup"),
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


def kontext(srv) -> tuple[str, dict]:
    with srv.client() as c:
        task_id = create(c, "flux_kontext", "text_to_image", KONTEXT)
        return task_id, finish(c, "flux_kontext", "text_to_image", task_id)


def test_every_bfl_route_completes_with_our_signed_links(srv, modes):
    started = []
    with srv.client() as c:
        for action, model, body in bfl_requests():
            started.append((action, model, body, create(c, action.family, action.name, body)))
        for action, model, body, task_id in started:
            result = finish(c, action.family, action.name, task_id)
            assert result["status"] == "completed", (action.key, body, result, modes.primary.refused[-1:])
            assert downloads(srv, result, "images")[0] == PNG
            assert task_row(srv, task_id)["provider_job"]["deployment"] == "bfl-primary"
    endpoints = {call["endpoint"] for call in modes.primary.calls("POST")}
    assert {route_of(bfl_table(), a, m, b).app for a, m, b, _ in started} <= endpoints
    assert not modes.primary.refused
    assert all(r["headers"]["x-key"] == "k-primary" for r in modes.primary.requests if r["path"].startswith("/v1/"))


def test_the_fake_refuses_like_bfl(modes):
    url, auth = modes.primary.url + "/v1", {"x-key": "k-primary"}
    assert httpx.post(f"{url}/flux-3-ultra", json={"prompt": "x"}, headers=auth).status_code == 404
    r = httpx.post(f"{url}/flux-2-pro", json={"prompt": "x", "width": 1000, "steps": 4}, headers=auth)
    assert r.status_code == 422
    assert {tuple(d["loc"]): d["type"] for d in r.json()["detail"]} == {
        ("body", "steps"): "extra_forbidden",
        ("body", "width"): "value_error",
    }
    assert httpx.post(f"{url}/flux-2-pro", json={"prompt": "x"}).status_code == 403
    assert httpx.post(f"{url}/flux-2-pro", json={"prompt": "x"}, headers={"x-key": "no"}).status_code == 401


def test_flux_2_body_reaches_bfl_as_documented(srv, modes):
    body = {
        "model": "flux-2-flex-remix-image",
        "prompt": "Combine both",
        "aspect_ratio": "3:4",
        "output_resolution": "2k",
        "source_image_urls": ["https://example.com/a.png", "https://example.com/b.png"],
    }
    with srv.client() as c:
        assert finish(c, "flux_2", "remix_image", create(c, "flux_2", "remix_image", body))["status"] == "completed"
    call = modes.primary.calls("POST")[-1]
    assert call["endpoint"] == "flux-2-flex"
    assert call["body"] == {
        "prompt": "Combine both",
        "width": 1536,
        "height": 2048,
        "input_image": "https://example.com/a.png",
        "input_image_2": "https://example.com/b.png",
    }


@pytest.mark.parametrize("failure", ["key", "402", "429", "500"])
def test_a_deployment_that_cannot_take_the_job_hands_it_to_the_next(srv, modes, failure):
    if failure == "key":
        modes.primary.key = "rotated"
    else:
        modes.primary.mode = failure
    task_id, body = kontext(srv)
    assert body["status"] == "completed"
    assert task_row(srv, task_id)["provider_job"]["deployment"] == "bfl-backup"


def test_too_many_active_tasks_cools_the_deployment_down(srv, modes):
    modes.primary.mode = "429"
    assert kontext(srv)[1]["status"] == "completed"
    refused = len(modes.primary.calls("POST"))
    modes.primary.mode = "ok"  # Retry-After: 30 has not passed: it is not asked again yet
    task_id, body = kontext(srv)
    assert body["status"] == "completed" and len(modes.primary.calls("POST")) == refused
    assert task_row(srv, task_id)["provider_job"]["deployment"] == "bfl-backup"


def test_a_task_lost_at_bfl_moves_to_the_next_deployment(srv, modes):
    lost_job_moves_on(srv, modes, "flux_kontext", "text_to_image", KONTEXT, ["bfl-primary", "bfl-backup"])


def test_moderation_fails_the_task_and_refunds(srv, modes):
    modes.primary.mode = "policy"
    _, key = new_account(srv, credits=1000)
    before = len(modes.backup.requests)
    with srv.client(key) as c:
        body = finish(c, "flux_kontext", "text_to_image", create(c, "flux_kontext", "text_to_image", KONTEXT))
    assert body["status"] == "failed" and body["error"].startswith("Content Moderated")
    assert len(modes.backup.requests) == before  # a refusal is not shopped around
    assert balance(srv, key) == 1000


def test_a_slow_task_is_polled_until_ready(srv, modes):
    task_id = slow_job(srv, modes, "flux_kontext", "text_to_image", KONTEXT)
    bfl_id = task_row(srv, task_id)["provider_job"]["handle"]["id"]
    assert len([r for r in modes.primary.calls("GET", "/v1/get_result") if r["query"].get("id") == bfl_id]) >= 5


def test_a_polling_url_on_another_host_is_not_followed(srv, modes):
    modes.primary.mode = "elsewhere"  # the answer's polling_url names localhost:9, not the configured 127.0.0.1
    task_id, body = kontext(srv)
    assert body["status"] == "completed"
    handle = task_row(srv, task_id)["provider_job"]["handle"]
    assert handle["polling_url"] == f"{modes.primary.url}/v1/get_result?id={handle['id']}"
