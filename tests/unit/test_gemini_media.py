"""The Gemini media adapter without a socket: its table (gemini_models.yaml) names real actions, models and
parameters; every body it builds for every mapped pair (the catalog's examples and requests reaching every
route) passes Google's request schema (tests/support/contracts/gemini_schemas.yaml), and values Google cannot
take are refused before any call; answers are read as Google sends them (inline images, thought images, safety
blocks, Veo operations, key-protected video links) and errors are classified as Google shapes them. The HTTP
round trips run on httpx.MockTransport; the fake server over sockets is tests/e2e/test_upstream_gemini.py."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import httpx
import pytest

from runapi.catalog import get_catalog
from runapi.providers.base import TaskFailed, TaskInput
from runapi.providers.upstream import registry
from runapi.providers.upstream.adapter import Finished, Running, Started
from runapi.providers.upstream.config import MediaDeployment
from runapi.providers.upstream.errors import UpstreamError
from runapi.providers.upstream.gemini import (
    Gemini,
    classify,
    image_body,
    image_files,
    makes_video,
    video_body,
)
from runapi.providers.upstream.mapping import Context
from tests.support import gemini_contract
from tests.support.fake_media import MP4, PNG
from tests.support.first_party import params_of
from tests.support.gemini_requests import IMG, REFUSALS, requests

BASE = "https://gemini.test/v1beta"


async def fetch_png(url: str) -> tuple[bytes, str]:
    return PNG, "image/png"


def wire(action: Any, model: str, request: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """(method, Gemini model, body) the adapter sends for this request."""
    params = params_of(action, model, request)
    mapping = Gemini.bundled().get(action.key, model)
    assert mapping is not None
    route = mapping.route(params, model)
    assert route is not None and route.refuse is None, (action.key, model, request)
    fields = mapping.body(route, Context(params=params))
    if makes_video(mapping):
        return "predictLongRunning", route.app, asyncio.run(video_body(fields, fetch_png))
    return "generateContent", route.app, asyncio.run(image_body(fields, fetch_png))


# --- the table and the contract --------------------------------------------------------------------------------


def test_the_kind_is_registered_and_lists_its_pairs() -> None:
    assert registry.ADAPTERS["gemini"] is Gemini
    assert ("nano_banana/text_to_image", "nano-banana-pro") in Gemini.pairs()
    assert ("veo_3_1/text_to_video", "veo-3.1-lite") in Gemini.pairs()


def test_the_table_names_real_actions_models_and_params() -> None:
    catalog = get_catalog()
    for (action_key, model), mapping in Gemini.bundled().entries.items():
        action = catalog.action(*action_key.split("/"))
        assert action is not None and model in action.models, (action_key, model)
        for route in mapping.routes:
            used = {spec[1:] for spec in route.input.values() if isinstance(spec, str) and spec.startswith("$")}
            used |= {spec["param"] for spec in route.input.values() if isinstance(spec, dict) and "param" in spec}
            assert used <= set(action.params), (action_key, model, used - set(action.params))


def test_the_contract_has_exactly_the_models_the_table_calls() -> None:
    called = set()
    for mapping in Gemini.bundled().entries.values():
        method = "predictLongRunning" if makes_video(mapping) else "generateContent"
        called |= {f"{method}/{r.app}" for r in mapping.routes if r.refuse is None}
    assert called == set(gemini_contract.schemas())
    for endpoint in called:
        assert gemini_contract.validator(endpoint) is not None


@pytest.mark.parametrize(("action", "model", "request_body"), requests(), ids=lambda v: getattr(v, "key", None))
def test_every_body_the_adapter_builds_passes_googles_schema(action: Any, model: str, request_body: dict) -> None:
    route = Gemini.bundled().get(action.key, model).route(params_of(action, model, request_body), model)
    if route is not None and route.refuse is not None:  # e.g. the catalog's Lite reference example
        assert route.refuse in {message for *_, message in REFUSALS}
        return
    method, app, body = wire(action, model, request_body)
    assert gemini_contract.refusals(method, app, body) == [], (action.key, model, body)


def test_every_route_is_reached_by_some_request() -> None:
    reached = set()
    for action, model, body in requests():
        route = Gemini.bundled().get(action.key, model).route(params_of(action, model, body), model)
        reached.add((action.key, model, route.when))
    for (action_key, model), mapping in Gemini.bundled().entries.items():
        for route in mapping.routes:
            if route.refuse is None:
                assert (action_key, model, route.when) in reached, (action_key, model, route.when)


@pytest.mark.parametrize(("family", "name", "request_body", "message"), REFUSALS)
def test_what_google_cannot_make_is_refused_before_any_call(family, name, request_body, message) -> None:
    action = get_catalog().action(family, name)
    task = TaskInput(
        "t1", action, action.models[request_body["model"]], params_of(action, request_body["model"], request_body)
    )
    with pytest.raises(UpstreamError, match=message) as refused:
        Gemini.bundled().route_for(task, "gemini")
    assert refused.value.out_of_reach and not refused.value.retryable


def test_the_bodies_carry_our_values_in_googles_fields() -> None:
    catalog = get_catalog()
    _, app, body = wire(
        catalog.action("nano_banana", "text_to_image"),
        "nano-banana-pro",
        {
            "model": "nano-banana-pro",
            "prompt": "hills",
            "aspect_ratio": "16:9",
            "output_resolution": "2k",
            "reference_image_urls": [IMG],
        },
    )
    assert app == "gemini-3-pro-image"
    parts = body["contents"][0]["parts"]
    assert parts[0] == {"text": "hills"} and base64.b64decode(parts[1]["inline_data"]["data"]) == PNG
    assert body["generationConfig"] == {
        "responseModalities": ["IMAGE"],
        "imageConfig": {"aspectRatio": "16:9", "imageSize": "2K"},
    }
    _, _, auto = wire(
        catalog.action("nano_banana", "text_to_image"),
        "nano-banana-2",
        {"model": "nano-banana-2", "prompt": "x", "aspect_ratio": "auto"},
    )
    assert "aspectRatio" not in auto["generationConfig"].get("imageConfig", {})  # Gemini has no "auto": the model picks
    _, app, veo = wire(
        catalog.action("veo_3_1", "text_to_video"),
        "veo-3.1-fast",
        {
            "model": "veo-3.1-fast",
            "prompt": "walk",
            "input_mode": "reference",
            "reference_image_urls": [IMG, IMG],
            "seeds": 12345,
            "watermark": "x",
        },
    )
    assert app == "veo-3.1-fast-generate-preview"
    assert veo["parameters"] == {"aspectRatio": "16:9", "durationSeconds": 8}  # no seed: the Gemini API has none
    assert [r["referenceType"] for r in veo["instances"][0]["referenceImages"]] == ["asset", "asset"]


def test_the_contract_catches_what_google_refuses() -> None:
    ok = {"instances": [{"prompt": "x"}], "parameters": {"durationSeconds": 8}}
    assert gemini_contract.refusals("predictLongRunning", "veo-3.1-generate-preview", ok) == []
    assert gemini_contract.refusals("predictLongRunning", "veo-2.0-generate-001", ok) is None
    bad = {"instances": [{"prompt": "x", "seed": 1}], "parameters": {"durationSeconds": 5}}
    problems = gemini_contract.refusals("predictLongRunning", "veo-3.1-generate-preview", bad)
    assert problems and 'Unknown name "seed"' in problems[0]
    assert gemini_contract.refusals(
        "predictLongRunning", "veo-3.1-generate-preview", {**bad, "instances": [{"prompt": "x"}]}
    ) == ["durationSeconds must be 4, 6 or 8, got 5"]
    lite_4k = {"instances": [{"prompt": "x"}], "parameters": {"resolution": "4k"}}
    assert gemini_contract.refusals("predictLongRunning", "veo-3.1-lite-generate-preview", lite_4k)
    image = {"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"imageConfig": {"imageSize": "2K"}}}
    assert gemini_contract.refusals("generateContent", "gemini-2.5-flash-image", image)  # one size only
    assert gemini_contract.refusals("generateContent", "gemini-3-pro-image", image) == []


# --- answers and errors ----------------------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_images_come_inline_and_thought_images_are_left_out() -> None:
    answer = {
        "candidates": [
            {
                "content": {
                    "parts": [
                        {"inlineData": {"mimeType": "image/png", "data": b64(b"draft")}, "thought": True},
                        {"text": "here"},
                        {"inlineData": {"mimeType": "image/png", "data": b64(PNG)}},
                    ]
                },
                "finishReason": "STOP",
            }
        ]
    }
    files = image_files(answer, "g")
    assert [(f.kind, f.data) for f in files] == [("images", PNG)]


@pytest.mark.parametrize(
    "answer",
    [
        {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}},
        {"candidates": [{"content": {"parts": [{"text": "I can't"}]}, "finishReason": "IMAGE_SAFETY"}]},
        {"candidates": [{"finishReason": "SAFETY", "finishMessage": "blocked"}]},
    ],
)
def test_a_safety_refusal_is_a_content_policy_failure_not_retried(answer: dict) -> None:
    with pytest.raises(UpstreamError) as refused:
        image_files(answer, "g")
    assert not refused.value.retryable and not refused.value.out_of_reach


def test_no_image_without_a_safety_reason_may_be_tried_elsewhere() -> None:
    with pytest.raises(UpstreamError) as failed:
        image_files({"candidates": [{"content": {"parts": [{"text": "hm"}]}, "finishReason": "STOP"}]}, "g")
    assert failed.value.retryable


def google(code: int, status: str, details: list | None = None, headers: dict | None = None) -> httpx.Response:
    error = {"code": code, "message": "m", "status": status, **({"details": details} if details else {})}
    return httpx.Response(code, json={"error": error}, headers=headers)


def test_errors_are_classified_as_google_shapes_them() -> None:
    bad_key = classify(google(400, "INVALID_ARGUMENT", [{"reason": "API_KEY_INVALID"}]), "g")
    assert bad_key.retryable  # a wrong key is this deployment's problem, not the request's
    invalid = classify(google(400, "INVALID_ARGUMENT"), "g")
    assert not invalid.retryable and str(invalid) == "m (INVALID_ARGUMENT)"
    assert classify(google(403, "PERMISSION_DENIED"), "g").retryable
    quota = classify(google(429, "RESOURCE_EXHAUSTED", [{"retryDelay": "37s"}]), "g")
    assert quota.rate_limited and quota.retry_after == 37.0
    assert classify(google(429, "RESOURCE_EXHAUSTED", headers={"Retry-After": "5"}), "g").retry_after == 5.0
    assert classify(google(503, "UNAVAILABLE"), "g").retryable


# --- the adapter over a mock transport --------------------------------------------------------------------------


class NoInputs:
    async def fetch(self, url: str, max_bytes: int | None = None, what: str = "file") -> bytes:
        return PNG


def adapter(handler: Any, **deployment: Any) -> Gemini:
    d = MediaDeployment(name="g", kind="gemini", base_url=BASE, api_key="k", **deployment)
    return Gemini(d, httpx.AsyncClient(transport=httpx.MockTransport(handler)), NoInputs())  # type: ignore[arg-type]


def veo_task() -> TaskInput:
    action = get_catalog().action("veo_3_1", "text_to_video")
    return TaskInput(
        "t1", action, action.models["veo-3.1"], params_of(action, "veo-3.1", {"model": "veo-3.1", "prompt": "a fox"})
    )


def done(result: dict) -> dict:
    return {"name": "models/veo/operations/1", "done": True, "response": {"generateVideoResponse": result}}


def check(handler: Any, **deployment: Any) -> Running | Finished:
    handle = {
        "model": "veo-3.1-generate-preview",
        "operation": "models/veo-3.1-generate-preview/operations/1",
        "meta": {"resolution": "720p"},
    }
    return asyncio.run(adapter(handler, **deployment).check(veo_task(), handle))


def test_a_veo_job_is_started_and_its_video_fetched_with_the_key_from_googles_origin() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith(":predictLongRunning"):
            return httpx.Response(200, json={"name": "models/veo-3.1-generate-preview/operations/1"})
        if "/operations/" in request.url.path:
            return httpx.Response(
                200, json=done({"generatedSamples": [{"video": {"uri": f"{BASE}/files/v:download?alt=media"}}]})
            )
        return httpx.Response(200, content=MP4)

    started = asyncio.run(adapter(handler).start(veo_task(), Context(params=veo_task().params)))
    assert isinstance(started, Started) and started.handle["operation"].endswith("/operations/1")
    assert json.loads(seen[0].content)["instances"] == [{"prompt": "a fox"}]
    finished = check(handler)
    assert isinstance(finished, Finished) and finished.files[0].data == MP4
    assert finished.files[0].meta == {"resolution": "720p"}
    assert all(r.headers["x-goog-api-key"] == "k" for r in seen)


def test_a_video_link_elsewhere_or_a_redirect_is_left_to_the_keyless_download() -> None:
    elsewhere = check(
        lambda r: httpx.Response(
            200, json=done({"generatedSamples": [{"video": {"uri": "https://cdn.example/v.mp4"}}]})
        )
    )
    assert isinstance(elsewhere, Finished) and elsewhere.files[0].url == "https://cdn.example/v.mp4"

    def redirecting(request: httpx.Request) -> httpx.Response:
        if "/operations/" in request.url.path:
            return httpx.Response(
                200, json=done({"generatedSamples": [{"video": {"uri": f"{BASE}/files/v:download"}}]})
            )
        return httpx.Response(302, headers={"location": "https://storage.example/v.mp4"})

    moved = check(redirecting)
    assert isinstance(moved, Finished) and moved.files[0].url == "https://storage.example/v.mp4"


def test_a_video_over_the_output_limit_fails_the_task() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if "/operations/" in request.url.path:
            return httpx.Response(
                200, json=done({"generatedSamples": [{"video": {"uri": f"{BASE}/files/v:download"}}]})
            )
        return httpx.Response(200, content=b"x" * 100)

    with pytest.raises(UpstreamError, match="too large") as failed:
        check(handler, max_output_bytes=10)
    assert not failed.value.retryable


def test_veo_operation_states() -> None:
    assert isinstance(check(lambda r: httpx.Response(200, json={"name": "op"})), Running)
    limited = check(lambda r: google(429, "RESOURCE_EXHAUSTED", [{"retryDelay": "12s"}]))
    assert isinstance(limited, Running) and limited.poll_in == 12.0
    with pytest.raises(UpstreamError) as filtered:
        check(
            lambda r: httpx.Response(
                200, json=done({"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": ["unsafe"]})
            )
        )
    assert not filtered.value.retryable and "unsafe" in str(filtered.value)
    with pytest.raises(UpstreamError) as lost:
        check(lambda r: httpx.Response(200, json={"done": True, "error": {"code": 13, "message": "internal"}}))
    assert lost.value.retryable and lost.value.job_failed
    with pytest.raises(UpstreamError) as invalid:
        check(lambda r: httpx.Response(200, json={"done": True, "error": {"code": 3, "message": "bad prompt"}}))
    assert not invalid.value.retryable
    with pytest.raises(UpstreamError) as gone:
        check(lambda r: google(404, "NOT_FOUND"))
    assert gone.value.job_failed


def image_task(model: str = "nano-banana-pro", **request: Any) -> TaskInput:
    action = get_catalog().action("nano_banana", "text_to_image")
    body = {"model": model, "prompt": "a fox", **request}
    return TaskInput("t2", action, action.models[model], params_of(action, model, body))


def test_an_image_is_made_at_once_from_inline_inputs_with_the_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        part = {"inlineData": {"mimeType": "image/png", "data": b64(PNG)}}
        return httpx.Response(200, json={"candidates": [{"content": {"parts": [part]}, "finishReason": "STOP"}]})

    task = image_task(reference_image_urls=[IMG])
    finished = asyncio.run(adapter(handler).start(task, Context(params=task.params)))
    assert isinstance(finished, Finished) and finished.files[0].data == PNG
    assert seen[0].url.path == "/v1beta/models/gemini-3-pro-image:generateContent"
    assert seen[0].headers["x-goog-api-key"] == "k"
    sent = json.loads(seen[0].content)
    assert gemini_contract.refusals("generateContent", "gemini-3-pro-image", sent) == []


def test_an_input_that_is_no_image_fails_the_task_before_any_call() -> None:
    class TextInputs:
        async def fetch(self, url: str, max_bytes: int | None = None, what: str = "file") -> bytes:
            return b"plain text, not an image"

    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no call expected")

    gemini = adapter(handler)
    gemini.inputs = TextInputs()  # type: ignore[assignment]
    task = image_task(reference_image_urls=[IMG])
    with pytest.raises(TaskFailed, match="not a supported image"):
        asyncio.run(gemini.start(task, Context(params=task.params)))


@pytest.mark.parametrize("name", ["", "https://elsewhere.example/x", "models/../../files/secret", 7])
def test_an_operation_name_that_is_no_plain_path_is_refused(name: Any) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"name": name})

    with pytest.raises(UpstreamError, match="operation name"):
        asyncio.run(adapter(handler).start(veo_task(), Context(params=veo_task().params)))
