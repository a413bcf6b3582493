"""The ModelArk adapter without a socket: every (action, model) ark_models.yaml maps builds, from the catalog's
examples and extra requests reaching every route, a body ModelArk's published schema for that model accepts
(tests/support/contracts/ark_schemas.yaml); refusal routes stop a request before any call; task states, results
and ModelArk's errors are read as the router needs them (httpx.MockTransport stands in for the network)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from runapi.catalog import get_catalog
from runapi.providers.base import TaskInput
from runapi.providers.upstream.adapter import Finished, Running, Started
from runapi.providers.upstream.ark import ModelArk, ark_table
from runapi.providers.upstream.config import MediaDeployment
from runapi.providers.upstream.errors import UpstreamError
from runapi.providers.upstream.mapping import Context
from runapi.providers.upstream.registry import ADAPTERS, parse_deployment
from tests.support.fake_ark import size_error
from tests.support.upstream_contract import schemas, violations
from tests.support.upstream_examples import ARK_REFUSALS, IMG, IMG2, ark_requests, params_of, route_of

BASE = "https://ark.example/api/v3"


def body_for(action: Any, model: str, request: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    params = params_of(action, model, request)
    mapping = ark_table().get(action.key, model)
    route = route_of(ark_table(), action, model, request)
    return route.app, {"model": route.app, **mapping.body(route, Context(params))}


def served_requests():
    return [(a, m, b) for a, m, b in ark_requests() if route_of(ark_table(), a, m, b).refuse is None]


def test_ark_is_a_registered_kind_serving_seedance_and_seedream():
    assert ADAPTERS["ark"] is ModelArk
    deployment = parse_deployment({"name": "ark", "kind": "ark", "api_key": "k"})
    assert deployment.base_url == "https://ark.ap-southeast.bytepluses.com/api/v3"
    pairs = ModelArk.pairs()
    assert ("seedance/text_to_video", "seedance-2.0") in pairs and (
        "seedream/edit_image",
        "seedream-5-pro-edit",
    ) in pairs
    assert ("seedance/text_to_video", "seedance-2.5") not in pairs  # no ModelArk model id is documented for it
    catalog = get_catalog()
    for action_key, model in pairs:
        assert model in catalog.action(*action_key.split("/")).models


@pytest.mark.parametrize(("action", "model", "request_body"), served_requests(), ids=lambda v: getattr(v, "key", None))
def test_every_mapped_request_is_a_body_modelark_accepts(action, model, request_body):
    app, body = body_for(action, model, request_body)
    refused = violations("ark", app, body)
    assert refused is not None, f"{app} is not in ark_schemas.yaml"
    assert [e.message for e in refused] == [], (app, body)
    assert size_error(app, body.get("size")) is None, (app, body)


def test_every_route_is_reached_and_every_model_id_has_a_schema():
    reached = {(a.key, m, route_of(ark_table(), a, m, b).app) for a, m, b in ark_requests()}
    apps = set()
    for (action_key, model), mapping in ark_table().entries.items():
        for route in mapping.routes:
            if route.refuse is None:
                apps.add(route.app)
                assert (action_key, model, route.app) in reached, (action_key, model, route.app)
    assert apps == set(schemas("ark")), "ark_models.yaml and ark_schemas.yaml name different models"


def test_every_refusal_route_is_reached():
    catalog = get_catalog()
    reached = set()
    for family, name, body, _ in ARK_REFUSALS:
        action = catalog.action(family, name)
        reached.add((action.key, body["model"], route_of(ark_table(), action, body["model"], body).refuse))
    for (action_key, model), mapping in ark_table().entries.items():
        for route in mapping.routes:
            if route.refuse is not None:
                assert (action_key, model, route.refuse) in reached, (action_key, model, route.refuse)


@pytest.mark.parametrize(("family", "name", "request_body", "message"), ARK_REFUSALS)
def test_requests_modelark_cannot_honour_are_refused_before_a_call(family, name, request_body, message):
    action = get_catalog().action(family, name)
    task = TaskInput(id="t", action=action, model=action.models[request_body["model"]], params=request_body)
    with pytest.raises(UpstreamError) as err:
        ark_table().route_for(task, "ark")
    assert err.value.out_of_reach and not err.value.retryable and str(err.value).startswith(message)


def test_seedance_content_parts_carry_each_input_in_its_role():
    action = get_catalog().action("seedance", "text_to_video")
    _, body = body_for(
        action,
        "seedance-1.5-pro",
        {
            "model": "seedance-1.5-pro",
            "prompt": "A bud opens",
            "aspect_ratio": "auto",
            "duration_seconds": 4,
            "source_image_urls": [IMG, IMG2],
            "lock_camera": True,
        },
    )
    assert body == {
        "model": "seedance-1-5-pro-251215",
        "content": [
            {"type": "text", "text": "A bud opens"},
            {"type": "image_url", "image_url": {"url": IMG}, "role": "first_frame"},
            {"type": "image_url", "image_url": {"url": IMG2}, "role": "last_frame"},
        ],
        "ratio": "adaptive",
        "duration": 4,
        "camera_fixed": True,
        "watermark": False,
    }
    _, body = body_for(
        action,
        "seedance-2.0",
        {
            "model": "seedance-2.0",
            "prompt": "Dance",
            "reference_image_urls": [IMG],
            "reference_video_urls": ["https://e/v.mp4"],
            "reference_audio_urls": ["https://e/a.mp3"],
        },
    )
    assert [(p["type"], p.get("role")) for p in body["content"]] == [
        ("text", None),
        ("image_url", "reference_image"),
        ("video_url", "reference_video"),
        ("audio_url", "reference_audio"),
    ]
    assert body["content"][2]["video_url"] == {"url": "https://e/v.mp4"}


def test_seedream_sizes_follow_aspect_and_resolution_or_quality():
    action = get_catalog().action("seedream", "text_to_image")
    _, body = body_for(
        action,
        "seedream-v4-text-to-image",
        {"model": "seedream-v4-text-to-image", "prompt": "x", "output_resolution": "2k"},
    )
    assert body["size"] == "2K" and body["watermark"] is False and body["sequential_image_generation"] == "disabled"
    _, body = body_for(
        action,
        "seedream-4.5-text-to-image",
        {"model": "seedream-4.5-text-to-image", "prompt": "x", "aspect_ratio": "16:9", "output_quality": "high"},
    )
    assert body["size"] == "5456x3072"
    _, body = body_for(
        action,
        "seedream-5-pro-text-to-image",
        {"model": "seedream-5-pro-text-to-image", "prompt": "x", "aspect_ratio": "1:1", "output_quality": "basic"},
    )
    assert "sequential_image_generation" not in body and body["output_format"] == "png"


def test_the_size_rule_refuses_what_modelark_refuses():
    assert size_error("seedream-4-5-251128", "1500x1500")  # below 3686400 pixels
    assert size_error("seedream-4-5-251128", "1K")  # 4.5 has no 1K
    assert size_error("seedream-4-0-250828", "8000x400")  # aspect beyond 16
    assert size_error("seedream-4-0-250828", "1K") is None and size_error("seedream-4-5-251128", "3750x1250") is None


# --- the adapter over a mock transport --------------------------------------------------------------------------


def run(coro):
    return asyncio.run(coro)


def adapter(handler, **kw) -> ModelArk:
    deployment = MediaDeployment(name="ark", kind="ark", base_url=BASE, api_key="k-ark", **kw)
    return ModelArk(deployment, httpx.AsyncClient(transport=httpx.MockTransport(handler)))


def seedance_task(model: str = "seedance-2.0", **params) -> TaskInput:
    action = get_catalog().action("seedance", "text_to_video")
    return TaskInput(
        id="t", action=action, model=action.models[model], params={"model": model, "prompt": "a fox", **params}
    )


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message}}, headers=headers)


def test_a_video_task_is_submitted_with_the_key_and_polled_to_its_video():
    seen: list[httpx.Request] = []
    states = iter(["queued", "running", "succeeded"])

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "POST":
            return httpx.Response(200, json={"id": "cgt-1/x"})
        status = next(states)
        content = {"video_url": "https://cdn.example/v.mp4", "last_frame_url": "https://cdn.example/l.png"}
        return httpx.Response(
            200, json={"id": "cgt-1/x", "status": status, **({"content": content} if status == "succeeded" else {})}
        )

    ark = adapter(handler, poll_seconds=0.5)
    task = seedance_task(duration_seconds=5)
    started = run(ark.start(task, Context(task.params)))
    assert isinstance(started, Started) and started.handle["task_id"] == "cgt-1/x" and started.poll_in == 0.5
    assert seen[0].url == f"{BASE}/contents/generations/tasks" and seen[0].headers["authorization"] == "Bearer k-ark"
    assert json.loads(seen[0].content)["model"] == "dreamina-seedance-2-0-260128"
    assert isinstance(run(ark.check(task, started.handle)), Running)
    assert isinstance(run(ark.check(task, started.handle)), Running)
    done = run(ark.check(task, started.handle))
    assert isinstance(done, Finished) and [(f.kind, f.url) for f in done.files] == [
        ("videos", "https://cdn.example/v.mp4")
    ]
    assert (
        seen[1].url.raw_path == b"/api/v3/contents/generations/tasks/cgt-1%2Fx"
    )  # an upstream id stays one path segment


def test_model_map_renames_the_model_for_a_volcengine_deployment():
    bodies = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json={"id": "cgt-2"})

    ark = adapter(handler, model_map={"dreamina-seedance-2-0-260128": "ep-20261206-abc"})
    task = seedance_task()
    run(ark.start(task, Context(task.params)))
    assert bodies[0]["model"] == "ep-20261206-abc"


@pytest.mark.parametrize(
    ("answer", "retryable", "job_failed", "text"),
    [
        (
            {"status": "failed", "error": {"code": "OutputVideoSensitiveContentDetected", "message": "sensitive"}},
            False,
            False,
            "OutputVideoSensitiveContentDetected: sensitive",
        ),
        ({"status": "failed", "error": {"code": "InternalServiceError", "message": "broke"}}, True, True, "broke"),
        ({"status": "expired"}, True, True, "expired"),
        ({"status": "cancelled"}, False, False, "cancelled"),
        ({"status": "weird"}, True, False, "unknown status"),
    ],
)
def test_task_endings_are_classified(answer, retryable, job_failed, text):
    ark = adapter(lambda r: httpx.Response(200, json={"id": "c", **answer}))
    with pytest.raises(UpstreamError) as err:
        run(ark.check(seedance_task(), {"task_id": "c"}))
    assert (err.value.retryable, err.value.job_failed) == (retryable, job_failed) and text in str(err.value)


def test_a_poll_answered_429_is_running_not_failed():
    ark = adapter(lambda r: error(429, "RateLimitExceeded", "slow down", {"Retry-After": "7"}))
    assert run(ark.check(seedance_task(), {"task_id": "c"})) == Running(poll_in=7.0)


@pytest.mark.parametrize(
    ("response", "retryable", "retry_after", "text"),
    [
        (
            error(400, "InvalidParameter", "The parameter `ratio` is not valid"),
            False,
            None,
            "InvalidParameter: The parameter",
        ),
        (
            error(400, "InputTextSensitiveContentDetected", "sensitive"),
            False,
            None,
            "InputTextSensitiveContentDetected",
        ),
        (error(401, "AuthenticationError", "bad key"), True, None, "HTTP 401"),
        (error(429, "QuotaExceeded", "quota", {"Retry-After": "30"}), True, 30.0, "QuotaExceeded"),
        (error(500, "InternalServiceError", "broke"), True, None, "HTTP 500"),
    ],
)
def test_submission_errors_are_classified(response, retryable, retry_after, text):
    ark = adapter(lambda r: response)
    task = seedance_task()
    with pytest.raises(UpstreamError) as err:
        run(ark.start(task, Context(task.params)))
    assert (err.value.retryable, err.value.retry_after) == (retryable, retry_after) and text in str(err.value)


def image_task(**params) -> TaskInput:
    action = get_catalog().action("seedream", "edit_image")
    model = "seedream-4.5-edit"
    full = {
        "model": model,
        "prompt": "a fox",
        "source_image_urls": [IMG],
        "aspect_ratio": "1:1",
        "output_quality": "basic",
    }
    return TaskInput(id="t", action=action, model=action.models[model], params={**full, **params})


def test_seedream_answers_at_once_with_its_images():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"data": [{"url": "https://cdn.example/1.jpeg", "size": "2048x2048"}]})

    task = image_task()
    done = run(adapter(handler).start(task, Context(task.params)))
    assert isinstance(done, Finished) and [f.url for f in done.files] == ["https://cdn.example/1.jpeg"]
    assert seen[0].url == f"{BASE}/images/generations"
    assert json.loads(seen[0].content)["image"] == [IMG]


def test_seedream_images_all_refused_fail_with_modelark_reason():
    refused = {"data": [{"error": {"code": "OutputImageSensitiveContentDetected", "message": "sensitive"}}]}
    task = image_task()
    with pytest.raises(UpstreamError) as err:
        run(adapter(lambda r: httpx.Response(200, json=refused)).start(task, Context(task.params)))
    assert not err.value.retryable and "OutputImageSensitiveContentDetected" in str(err.value)
    with pytest.raises(UpstreamError) as err:
        run(adapter(lambda r: httpx.Response(200, json={"data": []})).start(task, Context(task.params)))
    assert err.value.retryable


def test_cancel_deletes_the_task_and_ignores_a_refusal():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.path))
        return error(400, "InvalidAction.TaskNotCancellable", "running")

    run(adapter(handler).cancel({"task_id": "cgt-9"}))
    assert seen == [("DELETE", "/api/v3/contents/generations/tasks/cgt-9")]
