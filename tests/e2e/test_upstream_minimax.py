"""MiniMax's video API as a media upstream, against a local fake speaking MiniMax's protocol
(tests/support/fake_minimax.py: key checked, every body checked against MiniMax's contract and per-model rules):
every Hailuo route completes through the public API (task → query → file → our signed link); a refused key,
a rate limit, an outage and a lost job move to the next deployment; a content-policy refusal fails the task with
MiniMax's message and refunds; a slow job is polled to the end; what MiniMax cannot make fails without a call."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from runapi.providers.upstream.minimax import MiniMax
from tests.support.fake_media import MP4
from tests.support.fake_minimax import FakeMiniMax
from tests.support.first_party import IMG, routed, table_requests
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
from tests.unit.test_upstream_minimax import EXTRA

PRO = {"model": "hailuo-02-text-to-video-pro", "prompt": "a fox"}
STANDARD = {"model": "hailuo-02-text-to-video-standard", "prompt": "a fox", "duration_seconds": 10}


@pytest.fixture(scope="module")
def fakes():
    f = SimpleNamespace(primary=FakeMiniMax("mm-primary"), backup=FakeMiniMax("mm-backup"))
    yield f
    for server in vars(f).values():
        server.stop()


@pytest.fixture(scope="module")
def srv(fakes, tmp_path_factory):
    def minimax(name, fake, key, **kw):
        return deployment(name, "minimax", fake.url + "/v1", key, **kw)

    server = serve(
        tmp_path_factory,
        "minimax",
        [
            minimax("mm-badkey", fakes.primary, "mm-wrong", models=["hailuo-02-text-to-video-pro"]),
            minimax("mm-primary", fakes.primary, "mm-primary"),
            minimax("mm-backup", fakes.backup, "mm-backup"),
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


def test_every_hailuo_route_completes_with_our_signed_links(srv, modes):
    table = MiniMax.bundled()
    started = []
    with srv.client() as c:
        for action, model, body in table_requests(table, EXTRA):
            if routed(table, action, model, body)[0].refuse:
                continue
            started.append((action, body, create(c, action.family, action.name, body)))
        for action, body, task_id in started:
            result = finish(c, action.family, action.name, task_id)
            assert result["status"] == "completed", (action.key, body, result, modes.primary.refused[-1:])
            assert downloads(srv, result, "videos") == [MP4]
    assert len(started) >= 9 and not modes.primary.refused and not modes.backup.refused


def test_the_body_is_minimaxs_and_the_file_is_looked_up(srv, modes):
    with srv.client() as c:
        task_id = create(
            c,
            "hailuo",
            "image_to_video",
            {
                "model": "hailuo-2.3-image-to-video-pro",
                "prompt": "spin",
                "first_frame_image_url": IMG,
                "duration_seconds": 6,
                "output_resolution": "1080p",
            },
        )
        assert finish(c, "hailuo", "image_to_video", task_id)["status"] == "completed"
    call = modes.primary.calls("POST", "/video_generation")[-1]
    assert call["headers"]["authorization"] == "Bearer mm-primary"
    assert call["body"] == {
        "model": "MiniMax-Hailuo-2.3",
        "prompt": "spin",
        "first_frame_image": IMG,
        "duration": 6,
        "resolution": "1080P",
    }
    job = task_row(srv, task_id)["provider_job"]["handle"]
    assert modes.primary.calls("GET", "/query/video_generation")[-1]["query"] == {"task_id": job["task_id"]}
    assert modes.primary.calls("GET", "/files/retrieve")


def test_a_refused_key_moves_to_the_next_deployment(srv, modes):
    with srv.client() as c:
        task_id = create(c, "hailuo", "text_to_video", PRO)
        assert finish(c, "hailuo", "text_to_video", task_id)["status"] == "completed"
    row = task_row(srv, task_id)
    assert row["provider"] == "mm-badkey" and row["provider_job"]["deployment"] == "mm-primary"


@pytest.mark.parametrize("failure", ["500", "429", "lost"])
def test_failures_hand_the_task_to_the_next_deployment(srv, modes, failure):
    handed_over(srv, modes, failure, "hailuo", "text_to_video", STANDARD, ("mm-primary", "mm-backup"))


def test_a_content_policy_refusal_fails_with_minimaxs_message_and_refunds(srv, modes):
    body = policy_refusal(srv, modes, "hailuo", "text_to_video", STANDARD)
    assert body["error"] == "input new_sensitive (status_code 1026)"


def test_a_slow_job_is_polled_until_it_succeeds(srv, modes):
    task_id = slow_job(srv, modes, "hailuo", "text_to_video", STANDARD)
    job = task_row(srv, task_id)["provider_job"]["handle"]
    polls = [
        r for r in modes.primary.calls("GET", "/query/video_generation") if r["query"] == {"task_id": job["task_id"]}
    ]
    assert len(polls) >= 5


def test_what_minimax_cannot_make_fails_without_a_call_and_refunds(srv, modes):
    _, key = new_account(srv, credits=1000)
    before = len(modes.primary.calls("POST")) + len(modes.backup.calls("POST"))
    with srv.client(key) as c:
        task_id = create(
            c,
            "hailuo",
            "image_to_video",
            {
                "model": "hailuo-2.3-image-to-video-standard",
                "prompt": "a fox",
                "first_frame_image_url": IMG,
                "output_resolution": "1080p",
                "duration_seconds": 10,
            },
        )
        body = finish(c, "hailuo", "image_to_video", task_id)
    assert body["status"] == "failed" and body["error"] == "MiniMax makes 1080P videos of 6 seconds only"
    assert len(modes.primary.calls("POST")) + len(modes.backup.calls("POST")) == before
    assert balance(srv, key) == 1000
