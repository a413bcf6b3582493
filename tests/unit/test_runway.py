"""Runway's adapter without a socket: every request the table can make (the catalog's examples and extra ones
reaching every route) is what Runway's published schema accepts, what Runway cannot make is refused before any
call, input links become what Runway reads, and task states and failure codes are classified as Runway's
docs say. Over HTTP (a local fake): tests/e2e/test_upstream_runway.py."""

from __future__ import annotations

import httpx
import pytest

from runapi.providers.upstream.adapter import Finished, Running, Started
from runapi.providers.upstream.errors import UpstreamError
from runapi.providers.upstream.runway import Runway, nearest_ratio, task_failure
from tests.support import upstream_contract
from tests.support.fake_media import tiny_png
from tests.support.fake_runway import media_problem
from tests.support.upstream_cases import StubInputs, cases, extra_cases, route_of, run_adapter, unknown_names

IMG = "https://example.com/first.png"
VIDEO = "https://example.com/source.mp4"
EXTRA = [
    (
        "runway/text_to_video",
        {"prompt": "a fox", "duration_seconds": 10, "output_resolution": "720p", "aspect_ratio": "9:16"},
    ),
    (
        "runway/text_to_video",
        {"prompt": "a fox", "duration_seconds": 5, "output_resolution": "720p", "first_frame_image_url": IMG},
    ),
    *[
        (
            "runway/text_to_video",
            {
                "prompt": "a fox",
                "duration_seconds": 5,
                "output_resolution": "720p",
                "first_frame_image_url": IMG,
                "aspect_ratio": ratio,
            },
        )
        for ratio in ("16:9", "9:16", "4:3", "3:4", "1:1", "21:9")
    ],
    ("runway_aleph/edit_video", {"prompt": "snow", "source_video_url": VIDEO, "aspect_ratio": "21:9", "seed": 0}),
]
REFUSED = [
    (
        "runway/text_to_video",
        {"prompt": "a fox", "duration_seconds": 5, "output_resolution": "1080p", "aspect_ratio": "16:9"},
    ),
    (
        "runway/text_to_video",
        {"prompt": "a fox", "duration_seconds": 5, "output_resolution": "720p", "aspect_ratio": "1:1"},
    ),
    ("runway_aleph/edit_video", {"prompt": "snow", "source_video_url": VIDEO, "seed": -1}),
    ("runway_aleph/edit_video", {"prompt": "snow", "source_video_url": VIDEO, "seed": 2**32}),
]


def accepted(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"id": "task-1"})


def runnable():
    table = Runway.bundled()
    return [c for c in cases(table, EXTRA) if route_of(table, *c).refuse is None]


def test_table_names_real_actions_models_and_params():
    assert unknown_names(Runway.bundled()) == {}


def test_every_route_has_a_contract_and_a_request_that_reaches_it():
    table = Runway.bundled()
    apps = {r.app for m in table.entries.values() for r in m.routes if r.refuse is None}
    assert apps == set(upstream_contract.schemas("runway"))
    reached = {(a.key, m, route_key(route_of(table, a, m, b))) for a, m, b in cases(table, EXTRA + REFUSED)}
    every = {(key, model, route_key(r)) for (key, model), m in table.entries.items() for r in m.routes}
    assert every - reached == set()
    refused = [route_of(table, a, m, b).refuse for a, m, b in extra_cases(Runway.bundled(), REFUSED)]
    assert all(refused)


def route_key(route) -> tuple:
    return (route.app, route.when, route.refuse)


@pytest.mark.parametrize("case", runnable(), ids=lambda c: f"{c[0].key}:{sorted(c[2].items())}")
def test_every_request_is_one_runway_accepts(case):
    action, model, body = case
    outcome, sent = run_adapter(Runway, action, model, body, accepted)
    assert isinstance(outcome, Started), outcome
    (call,) = sent
    endpoint = call.url.removeprefix("https://up.example/v1/")
    assert upstream_contract.problems("runway", f"{endpoint}/{call.json['model']}", call.json) == []
    assert all(media_problem(f, call.json[f]) is None for f in ("promptImage", "videoUri") if f in call.json)
    assert call.headers["authorization"] == "Bearer key-1" and call.headers["x-runway-version"] == "2024-11-06"
    assert outcome.handle == {"id": "task-1", "app": f"{endpoint}/{call.json['model']}", "meta": {}}


@pytest.mark.parametrize("case", extra_cases(Runway.bundled(), REFUSED), ids=str)
def test_what_runway_cannot_make_is_refused_without_a_call(case):
    outcome, sent = run_adapter(Runway, *case, accepted)
    assert isinstance(outcome, UpstreamError) and outcome.out_of_reach and not outcome.retryable
    assert sent == []


def test_the_catalog_examples_map_as_documented():
    table = Runway.bundled()
    t2v, i2v, aleph_ref, aleph = cases(table, [])
    outcome, sent = run_adapter(Runway, *t2v, accepted)
    assert sent[0].url.endswith("/v1/text_to_video")
    assert sent[0].json == {
        "model": "gen4.5",
        "promptText": t2v[2]["prompt"],
        "duration": 5,
        "ratio": "1280:720",
    }  # no watermark: Runway has no such field
    assert route_of(table, *i2v).refuse  # 1080p
    _, sent = run_adapter(Runway, *aleph_ref, accepted)
    assert sent == []  # Aleph 2 takes no style reference
    _, sent = run_adapter(Runway, *aleph, accepted)
    assert sent[0].json["model"] == "aleph2" and sent[0].json["seed"] == 42
    assert sent[0].json["targetAspectRatio"] == "16:9" and sent[0].url.endswith("/v1/video_to_video")


def test_first_frame_sets_the_nearest_ratio_and_private_links_go_inline():
    action, model, body = extra_cases(Runway.bundled(), EXTRA)[1]  # the first frame without aspect_ratio
    wide = tiny_png()
    inputs = StubInputs({IMG: wide})
    _, sent = run_adapter(Runway, action, model, body, accepted, inputs=inputs)
    assert sent[0].json["ratio"] == "960:960" and sent[0].json["promptImage"] == IMG  # 8x8: square; https kept
    assert inputs.fetched == [(IMG, 16 << 20, "image")]  # only measured: Runway reads the link itself
    own = {**body, "first_frame_image_url": "http://127.0.0.1:9/files/x.png", "aspect_ratio": "16:9"}
    inputs = StubInputs()
    _, sent = run_adapter(Runway, action, model, own, accepted, inputs=inputs)
    assert sent[0].json["promptImage"].startswith("data:image/png;base64,") and sent[0].json["ratio"] == "1280:720"
    assert inputs.fetched == [(own["first_frame_image_url"], 5 << 20, "image")]  # Runway's data URI limit
    aleph = cases(Runway.bundled(), [])[3]
    _, sent = run_adapter(Runway, *aleph[:2], {**aleph[2], "source_video_url": "http://own.example/v.mp4"}, accepted)
    assert sent[0].json["videoUri"].startswith("data:video/mp4;base64,")


def test_model_map_renames_endpoint_and_model():
    action, model, body = extra_cases(Runway.bundled(), EXTRA)[1]
    _, sent = run_adapter(
        Runway, action, model, body, accepted, model_map={"image_to_video/gen4_turbo": "image_to_video/gen4.5"}
    )
    assert sent[0].url.endswith("/v1/image_to_video") and sent[0].json["model"] == "gen4.5"


def test_nearest_ratio():
    assert nearest_ratio(1920, 1080) == "1280:720"
    assert nearest_ratio(1080, 1920) == "720:1280"
    assert nearest_ratio(1024, 768) == "1104:832"
    assert nearest_ratio(3000, 1000) == "1584:672"
    assert nearest_ratio(500, 510) == "960:960"


@pytest.mark.parametrize(
    "code, retryable, job_failed",
    [
        ("SAFETY.INPUT.TEXT", False, False),
        ("SAFETY.OUTPUT.VIDEO", False, False),
        ("INPUT_PREPROCESSING.SAFETY.TEXT", False, False),
        ("INTERNAL.BAD_OUTPUT.CODE01", True, True),
        ("INPUT_PREPROCESSING.INTERNAL", True, True),
        (None, True, True),
        ("ASSET.INVALID", False, False),
    ],
)
def test_task_failures_are_classified_by_failure_code(code, retryable, job_failed):
    err = task_failure({"status": "FAILED", "failure": "nope", "failureCode": code}, "rw")
    assert (err.retryable, err.job_failed) == (retryable, job_failed)
    assert str(err) == "nope" if not retryable else "nope" in str(err)


def _check(status_body: dict | None = None, status: int = 200, headers: dict | None = None):
    action, model, body = cases(Runway.bundled(), [])[0]
    return run_adapter(
        Runway,
        action,
        model,
        body,
        lambda r: httpx.Response(status, json=status_body, headers=headers or {}),
        step="check",
        handle={"id": "task-1", "meta": {}},
    )


@pytest.mark.parametrize("state", ["PENDING", "THROTTLED", "RUNNING"])
def test_running_states_poll_again(state):
    outcome, sent = _check({"id": "task-1", "status": state})
    assert isinstance(outcome, Running) and sent[0].url == "https://up.example/v1/tasks/task-1"


def test_succeeded_returns_every_output_as_a_video():
    outcome, _ = _check({"id": "task-1", "status": "SUCCEEDED", "output": ["https://cdn.example/a.mp4"]})
    assert isinstance(outcome, Finished)
    assert [(f.kind, f.url) for f in outcome.files] == [("videos", "https://cdn.example/a.mp4")]
    outcome, _ = _check({"id": "task-1", "status": "SUCCEEDED", "output": []})
    assert isinstance(outcome, UpstreamError) and outcome.job_failed


def test_failed_cancelled_unknown_and_rate_limited_polls():
    outcome, _ = _check({"status": "FAILED", "failure": "flagged", "failureCode": "SAFETY.INPUT.IMAGE"})
    assert isinstance(outcome, UpstreamError) and str(outcome) == "flagged" and not outcome.retryable
    outcome, _ = _check({"status": "CANCELLED"})
    assert isinstance(outcome, UpstreamError) and not outcome.retryable
    outcome, _ = _check({"status": "DONE"})
    assert isinstance(outcome, UpstreamError) and "unknown status" in str(outcome)
    outcome, _ = _check({"error": "slow down"}, status=429, headers={"Retry-After": "7"})
    assert isinstance(outcome, Running) and outcome.poll_in == 7.0
    outcome, _ = _check({"error": "Task not found"}, status=404)
    assert isinstance(outcome, UpstreamError) and outcome.job_failed


def test_submission_errors_keep_runways_message():
    action, model, body = cases(Runway.bundled(), [])[0]
    outcome, _ = run_adapter(Runway, action, model, body, lambda r: httpx.Response(400, json={"error": "Bad ratio"}))
    assert isinstance(outcome, UpstreamError) and str(outcome) == "Bad ratio" and not outcome.retryable
    outcome, _ = run_adapter(Runway, action, model, body, lambda r: httpx.Response(401, json={"error": "Bad key"}))
    assert isinstance(outcome, UpstreamError) and outcome.retryable
    outcome, _ = run_adapter(Runway, action, model, body, lambda r: httpx.Response(200, json={}))
    assert isinstance(outcome, UpstreamError) and "task id" in str(outcome)


def test_cancel_deletes_the_task():
    action, model, body = cases(Runway.bundled(), [])[0]
    _, sent = run_adapter(
        Runway, action, model, body, lambda r: httpx.Response(204), step="cancel", handle={"id": "task-1"}
    )
    assert [(s.method, s.url) for s in sent] == [("DELETE", "https://up.example/v1/tasks/task-1")]


def test_a_prompt_longer_than_runway_takes_is_refused_without_a_call():
    action, model, body = cases(Runway.bundled(), [])[0]
    outcome, sent = run_adapter(Runway, action, model, {**body, "prompt": "🦊" * 501}, accepted)  # 1002 units
    assert isinstance(outcome, UpstreamError) and outcome.out_of_reach and "1000" in str(outcome) and sent == []
    outcome, sent = run_adapter(Runway, action, model, {**body, "prompt": "🦊" * 500}, accepted)
    assert isinstance(outcome, Started) and len(sent) == 1
