"""MiniMax's video API (providers/upstream/minimax.py, minimax_models.yaml) without a socket: every Hailuo pair the
table maps builds, from the catalog's examples and extra requests reaching every route, a body MiniMax's published
contract and per-model rules accept; what MiniMax cannot make is refused before any call; base_resp codes, job
states and the file lookup are classified as the router needs."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from runapi.catalog import get_catalog
from runapi.catalog.validation import validate
from runapi.providers.base import TaskInput
from runapi.providers.upstream.adapter import Finished, Running
from runapi.providers.upstream.config import MediaDeployment
from runapi.providers.upstream.errors import UpstreamError
from runapi.providers.upstream.mapping import Context
from runapi.providers.upstream.minimax import MiniMax, base_resp_error
from runapi.providers.upstream.registry import ADAPTERS
from tests.support.fake_minimax import model_rules
from tests.support.first_party import IMG, routed, table_requests
from tests.support.upstream_contract import problems

TABLE = MiniMax.bundled()
EXTRA: list[tuple[str, str, dict[str, Any]]] = [
    (
        "hailuo",
        "image_to_video",
        {
            "model": "hailuo-2.3-image-to-video-pro",
            "prompt": "a fox",
            "first_frame_image_url": IMG,
            "output_resolution": "1080p",
            "duration_seconds": 10,
        },
    ),
    (
        "hailuo",
        "image_to_video",
        {"model": "hailuo-2.3-image-to-video-standard", "prompt": "a fox", "first_frame_image_url": IMG},
    ),
    (
        "hailuo",
        "image_to_video",
        {
            "model": "hailuo-2.3-image-to-video-standard",
            "prompt": "a fox",
            "first_frame_image_url": IMG,
            "output_resolution": "1080p",
            "duration_seconds": 10,
        },
    ),
    (
        "hailuo",
        "image_to_video",
        {"model": "hailuo-02-image-to-video-standard", "prompt": "a fox", "first_frame_image_url": IMG},
    ),
]
REQUESTS = table_requests(TABLE, EXTRA)


def body_for(route: Any, body: dict[str, Any]) -> dict[str, Any]:
    return {"model": route.app, **body}


def test_the_kind_is_registered_and_serves_every_hailuo_pair() -> None:
    assert ADAPTERS["minimax"] is MiniMax
    catalog = get_catalog()
    hailuo = {(a.key, m) for a in catalog.actions() if a.family == "hailuo" for m in a.models}
    assert MiniMax.pairs() == hailuo


@pytest.mark.parametrize(("action", "model", "request_body"), REQUESTS, ids=lambda v: getattr(v, "key", None))
def test_every_mapped_request_builds_a_body_minimax_accepts(action, model, request_body) -> None:
    route, body = routed(TABLE, action, model, request_body)
    if route.refuse:
        assert "MiniMax" in route.refuse
        return
    sent = body_for(route, body)
    assert problems("minimax", "/v1/video_generation", sent) == [] and model_rules(sent) == [], sent


def test_every_route_is_reached() -> None:
    reached = {(a.key, m, routed(TABLE, a, m, r)[0].when) for a, m, r in REQUESTS}
    for (action_key, model), mapping in TABLE.entries.items():
        for route in mapping.routes:
            assert (action_key, model, route.when) in reached, (action_key, model, route)


def test_bodies_follow_minimax_words() -> None:
    catalog = get_catalog()
    t2v, i2v = catalog.action("hailuo", "text_to_video"), catalog.action("hailuo", "image_to_video")
    route, pro = routed(TABLE, t2v, "hailuo-02-text-to-video-pro", t2v.examples[0])
    assert body_for(route, pro) == {
        "model": "MiniMax-Hailuo-02",
        "prompt": t2v.examples[0]["prompt"],
        "prompt_optimizer": True,
        "duration": 6,
        "resolution": "1080P",
    }
    route, standard = routed(TABLE, i2v, "hailuo-02-image-to-video-standard", i2v.examples[1])
    assert (standard["duration"], standard["resolution"]) == (10, "512P")
    assert standard["last_frame_image"] == "https://example.com/mountain-end.jpg"
    route, _ = routed(TABLE, i2v, "hailuo-2.3-image-to-video-pro", EXTRA[0][2])
    assert route.refuse == "MiniMax makes 1080P videos of 6 seconds only"


def test_the_fakes_rules_refuse_what_minimax_refuses() -> None:
    assert model_rules({"model": "MiniMax-Hailuo-2.3", "resolution": "512P", "first_frame_image": IMG}) != []
    assert model_rules({"model": "MiniMax-Hailuo-02", "resolution": "1080P", "duration": 10}) != []
    assert model_rules({"model": "MiniMax-Hailuo-2.3", "last_frame_image": IMG}) != []
    assert model_rules({"model": "MiniMax-Hailuo-02", "duration": 8}) != []
    assert problems("minimax", "/v1/video_generation", {"model": "Hailuo", "seed": 1}) == [
        "body: Additional properties are not allowed ('seed' was unexpected)",
        "model: 'Hailuo' is not one of ['MiniMax-Hailuo-2.3', 'MiniMax-Hailuo-2.3-Fast', 'MiniMax-Hailuo-02', "
        "'T2V-01-Director', 'I2V-01-Director', 'I2V-01-live', 'I2V-01', 'T2V-01', 'S2V-01']",
    ]


# --- answers -----------------------------------------------------------------------------------------------


def adapter(handler: Any, **kw: Any) -> MiniMax:
    deployment = MediaDeployment(name="minimax", kind="minimax", base_url="https://mm.test/v1", api_key="mm-key", **kw)
    return MiniMax(deployment, httpx.AsyncClient(transport=httpx.MockTransport(handler)))


def task_for(request: dict[str, Any]) -> TaskInput:
    action = get_catalog().action("hailuo", "image_to_video")
    model, params = validate(action, dict(request))
    return TaskInput(id="t1", action=action, model=model, params=params)


TASK = task_for({"model": "hailuo-2.3-image-to-video-pro", "prompt": "a fox", "first_frame_image_url": IMG})


def check(query: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Any:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer mm-key"
        if request.url.path == "/v1/files/retrieve":
            assert request.url.params["file_id"] == "77"
            return httpx.Response(
                200, json={"file": {"download_url": "https://cdn/v.mp4"}, "base_resp": {"status_code": 0}}
            )
        assert request.url.path == "/v1/query/video_generation" and request.url.params["task_id"] == "5"
        return httpx.Response(status, json=query, headers=headers)

    return asyncio.run(adapter(answer).check(TASK, {"task_id": "5"}))


def test_a_successful_job_is_fetched_through_its_file() -> None:
    done = check({"task_id": "5", "status": "Success", "file_id": "77", "base_resp": {"status_code": 0}})
    assert isinstance(done, Finished) and [(f.kind, f.url) for f in done.files] == [("videos", "https://cdn/v.mp4")]


def test_running_and_rate_limited_polls_keep_waiting() -> None:
    for state in ("Preparing", "Queueing", "Processing"):
        assert isinstance(check({"status": state, "base_resp": {"status_code": 0}}), Running)
    slowed = check({"error": "slow down"}, 429, {"Retry-After": "3"})
    assert isinstance(slowed, Running) and slowed.poll_in == 3.0


def test_failed_jobs_move_on_unless_the_content_review_refused() -> None:
    with pytest.raises(UpstreamError) as lost:
        check({"status": "Fail", "base_resp": {"status_code": 0, "status_msg": "success"}})
    assert lost.value.job_failed
    with pytest.raises(UpstreamError) as refused:
        check({"status": "Fail", "base_resp": {"status_code": 1027, "status_msg": "output new_sensitive"}})
    assert not refused.value.retryable and str(refused.value) == "output new_sensitive (status_code 1027)"


def test_submission_sends_the_model_and_reads_base_resp() -> None:
    sent: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, json={"task_id": "106", "base_resp": {"status_code": 0, "status_msg": "success"}})

    minimax = adapter(answer, model_map={"MiniMax-Hailuo-2.3": "MiniMax-Hailuo-2.3-Fast"})
    started = asyncio.run(minimax.start(TASK, Context(TASK.params)))
    assert started.handle == {"task_id": "106"}
    assert sent[0]["model"] == "MiniMax-Hailuo-2.3-Fast" and sent[0]["first_frame_image"] == IMG


def test_base_resp_codes_are_classified() -> None:
    assert base_resp_error({"base_resp": {"status_code": 0}}, "m") is None
    for code in (1026, 2013):
        final = base_resp_error({"base_resp": {"status_code": code, "status_msg": "no"}}, "m")
        assert final is not None and not final.retryable
    limited = base_resp_error({"base_resp": {"status_code": 1002, "status_msg": "rate limit"}}, "m")
    assert limited is not None and limited.retryable and limited.rate_limited
    for code in (1004, 1008, 1013):
        other = base_resp_error({"base_resp": {"status_code": code, "status_msg": "x"}}, "m")
        assert other is not None and other.retryable and not other.rate_limited
