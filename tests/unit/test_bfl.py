"""The Black Forest Labs adapter without a socket: every (action, model) bfl_models.yaml maps builds, from the
catalog's examples and extra requests reaching every route, a body BFL's published schema for that endpoint
accepts (tests/support/contracts/bfl_schemas.yaml); the key only goes to BFL's own hosts; task states, results and
BFL's errors are read as the router needs them (httpx.MockTransport stands in for the network)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from runapi.catalog import get_catalog
from runapi.providers.base import TaskInput
from runapi.providers.upstream.adapter import Finished, Running, Started
from runapi.providers.upstream.bfl import BlackForestLabs, bfl_table, polling_allowed
from runapi.providers.upstream.config import MediaDeployment
from runapi.providers.upstream.errors import UpstreamError
from runapi.providers.upstream.mapping import Context
from runapi.providers.upstream.registry import ADAPTERS, parse_deployment
from tests.support.fake_bfl import extra_detail
from tests.support.upstream_contract import schemas, violations
from tests.support.upstream_examples import IMG, IMG2, bfl_requests, params_of, route_of

BASE = "https://api.bfl.ai/v1"


def body_for(action: Any, model: str, request: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    mapping = bfl_table().get(action.key, model)
    route = route_of(bfl_table(), action, model, request)
    return route.app, mapping.body(route, Context(params_of(action, model, request)))


def test_bfl_is_a_registered_kind_serving_kontext_and_flux_2():
    assert ADAPTERS["bfl"] is BlackForestLabs
    assert parse_deployment({"name": "bfl", "kind": "bfl", "api_key": "k"}).base_url == BASE
    catalog = get_catalog()
    pairs = BlackForestLabs.pairs()
    assert len(pairs) == 8
    for action_key, model in pairs:
        assert model in catalog.action(*action_key.split("/")).models


@pytest.mark.parametrize(("action", "model", "request_body"), bfl_requests(), ids=lambda v: getattr(v, "key", None))
def test_every_mapped_request_is_a_body_bfl_accepts(action, model, request_body):
    endpoint, body = body_for(action, model, request_body)
    refused = violations("bfl", endpoint, body)
    assert refused is not None, f"{endpoint} is not in bfl_schemas.yaml"
    assert [e.message for e in refused] == [] and extra_detail(endpoint, body) == [], (endpoint, body)


def test_every_route_is_reached_and_every_endpoint_has_a_schema():
    reached = {(a.key, m, route_of(bfl_table(), a, m, b).app) for a, m, b in bfl_requests()}
    apps = set()
    for (action_key, model), mapping in bfl_table().entries.items():
        for route in mapping.routes:
            apps.add(route.app)
            assert (action_key, model, route.app) in reached
    assert apps == set(schemas("bfl"))


def test_bodies_carry_images_sizes_and_kontext_options():
    remix = get_catalog().action("flux_2", "remix_image")
    _, body = body_for(
        remix,
        "flux-2-pro-remix-image",
        {"model": "flux-2-pro-remix-image", "prompt": "mix", "source_image_urls": [IMG, IMG2], "aspect_ratio": "auto"},
    )
    assert body == {"prompt": "mix", "input_image": IMG, "input_image_2": IMG2}  # auto: the source's size
    _, body = body_for(
        remix,
        "flux-2-flex-remix-image",
        {
            "model": "flux-2-flex-remix-image",
            "prompt": "mix",
            "source_image_urls": [IMG],
            "aspect_ratio": "16:9",
            "output_resolution": "2k",
            "enable_safety_checker": True,
        },
    )
    assert body == {"prompt": "mix", "input_image": IMG, "width": 2048, "height": 1152}
    kontext = get_catalog().action("flux_kontext", "text_to_image")
    _, body = body_for(
        kontext,
        "flux-kontext-pro",
        {
            "model": "flux-kontext-pro",
            "prompt": "edit",
            "source_image_url": IMG,
            "safety_tolerance": 2,
            "enable_prompt_expansion": True,
            "enable_translation": True,
            "watermark": "x",
        },
    )
    assert body == {
        "prompt": "edit",
        "input_image": IMG,
        "aspect_ratio": "1:1",
        "output_format": "jpeg",
        "safety_tolerance": 2,
        "prompt_upsampling": True,
    }


def test_every_flux_2_size_is_a_multiple_of_16_within_bfl_range():
    for mapping in (bfl_table().get("flux_2/text_to_image", "flux-2-pro-text-to-image"),):
        for spec in (mapping.routes[0].input["width"], mapping.routes[0].input["height"]):
            sizes = list(spec["map"].values()) + [v for v in spec["default"]["map"].values() if v is not None]
            assert all(v % 16 == 0 and 64 <= v <= 2048 for v in sizes), sizes
    assert extra_detail("flux-2-pro", {"width": 1000}) and extra_detail("flux-kontext-pro", {"aspect_ratio": "4:1"})


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://api.bfl.ai/v1/get_result?id=1", True),
        ("https://api.eu.bfl.ai/v1/get_result?id=1", True),
        ("https://api.us1.bfl.ai/v1/get_result?id=1", True),
        ("http://api.eu.bfl.ai/v1/get_result?id=1", False),  # another scheme
        ("https://api.eu.bfl.ai:8443/v1/get_result?id=1", False),  # another port
        ("https://bfl.ai.evil.example/v1/get_result", False),
        ("https://evilbfl.ai/v1/get_result", False),
        ("https://user@api.eu.bfl.ai/v1/get_result", False),
        ("https://example.com/v1/get_result", False),
        (None, False),
    ],
)
def test_the_key_goes_only_to_bfl_hosts(url, allowed):
    assert polling_allowed(BASE, url) is allowed


def test_a_short_or_ip_base_allows_its_own_origin_only():
    assert polling_allowed("https://bfl.ai/v1", "https://bfl.ai/v1/get_result?id=1")
    assert not polling_allowed("https://bfl.ai/v1", "https://evil.ai/v1/get_result?id=1")  # the parent `ai` is a suffix
    assert not polling_allowed("https://bfl.ai/v1", "https://api.bfl.ai/v1/get_result?id=1")
    assert polling_allowed("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1/get_result?id=1")
    assert not polling_allowed("http://127.0.0.1:8000/v1", "http://0.1:8000/v1/get_result?id=1")
    assert not polling_allowed("http://127.0.0.1:8000/v1", "http://localhost:8000/v1/get_result?id=1")


# --- the adapter over a mock transport --------------------------------------------------------------------------


def run(coro):
    return asyncio.run(coro)


def adapter(handler, **kw) -> BlackForestLabs:
    deployment = MediaDeployment(name="bfl", kind="bfl", base_url=BASE, api_key="k-bfl", **kw)
    return BlackForestLabs(deployment, httpx.AsyncClient(transport=httpx.MockTransport(handler)))


def kontext_task() -> TaskInput:
    action = get_catalog().action("flux_kontext", "text_to_image")
    params = {"model": "flux-kontext-max", "prompt": "a fox", "aspect_ratio": "16:9"}
    return TaskInput(id="t", action=action, model=action.models["flux-kontext-max"], params=params)


def test_a_task_is_submitted_with_x_key_and_polled_at_its_regional_host():
    seen: list[httpx.Request] = []
    polls = iter(
        [{"status": "Pending"}, {"status": "Ready", "result": {"sample": "https://delivery-eu1.bfl.ai/s.jpg"}}]
    )

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "POST":
            return httpx.Response(200, json={"id": "abc", "polling_url": "https://api.eu.bfl.ai/v1/get_result?id=abc"})
        return httpx.Response(200, json={"id": "abc", **next(polls)})

    bfl = adapter(handler)
    task = kontext_task()
    started = run(bfl.start(task, Context(task.params)))
    assert (
        isinstance(started, Started) and started.handle["polling_url"] == "https://api.eu.bfl.ai/v1/get_result?id=abc"
    )
    assert str(seen[0].url) == f"{BASE}/flux-kontext-max" and seen[0].headers["x-key"] == "k-bfl"
    assert json.loads(seen[0].content) == {"prompt": "a fox", "aspect_ratio": "16:9"}
    assert isinstance(run(bfl.check(task, started.handle)), Running)
    done = run(bfl.check(task, started.handle))
    assert isinstance(done, Finished) and [(f.kind, f.url) for f in done.files] == [
        ("images", "https://delivery-eu1.bfl.ai/s.jpg")
    ]
    assert all(str(r.url).startswith("https://api.eu.bfl.ai/") for r in seen[1:])


def test_a_polling_url_elsewhere_is_ignored_for_the_base_get_result():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "POST":
            return httpx.Response(200, json={"id": "a b", "polling_url": "https://collector.example/steal"})
        return httpx.Response(200, json={"id": "a b", "status": "Pending"})

    bfl = adapter(handler)
    task = kontext_task()
    started = run(bfl.start(task, Context(task.params)))
    assert started.handle["polling_url"] == f"{BASE}/get_result?id=a+b"
    run(bfl.check(task, {"id": "a b", "polling_url": "https://collector.example/steal"}))  # a tampered handle too
    assert [r.url.host for r in seen] == ["api.bfl.ai", "api.bfl.ai"]


@pytest.mark.parametrize(
    ("status", "retryable", "job_failed"),
    [
        ("Request Moderated", False, False),
        ("Content Moderated", False, False),
        ("Error", True, True),
        ("Failed", True, True),
        ("Task not found", True, True),
        ("Strange", True, False),
    ],
)
def test_task_endings_are_classified(status, retryable, job_failed):
    bfl = adapter(lambda r: httpx.Response(200, json={"id": "a", "status": status}))
    with pytest.raises(UpstreamError) as err:
        run(bfl.check(kontext_task(), {"id": "a", "polling_url": f"{BASE}/get_result?id=a"}))
    assert (err.value.retryable, err.value.job_failed) == (retryable, job_failed)


def test_a_ready_task_without_a_sample_is_lost_and_a_poll_429_is_running():
    bfl = adapter(lambda r: httpx.Response(200, json={"id": "a", "status": "Ready", "result": {}}))
    with pytest.raises(UpstreamError) as err:
        run(bfl.check(kontext_task(), {"id": "a", "polling_url": f"{BASE}/get_result?id=a"}))
    assert err.value.job_failed
    bfl = adapter(lambda r: httpx.Response(429, json={"detail": "slow"}, headers={"Retry-After": "3"}))
    assert run(bfl.check(kontext_task(), {"id": "a", "polling_url": f"{BASE}/get_result?id=a"})) == Running(poll_in=3.0)


@pytest.mark.parametrize(
    ("response", "retryable", "retry_after", "text"),
    [
        (
            httpx.Response(422, json={"detail": [{"loc": ["body", "width"], "msg": "must be >= 64", "type": "x"}]}),
            False,
            None,
            "width: must be >= 64",
        ),
        (httpx.Response(402, json={"detail": "Insufficient credits"}), True, None, "Insufficient credits"),
        (
            httpx.Response(429, json={"detail": "too many active tasks"}, headers={"Retry-After": "20"}),
            True,
            20.0,
            "active",
        ),
        (httpx.Response(403, json={"detail": "Not authenticated"}), True, None, "HTTP 403"),
        (httpx.Response(500, text="oops"), True, None, "HTTP 500"),
    ],
)
def test_submission_errors_are_classified(response, retryable, retry_after, text):
    task = kontext_task()
    with pytest.raises(UpstreamError) as err:
        run(adapter(lambda r: response).start(task, Context(task.params)))
    assert (err.value.retryable, err.value.retry_after) == (retryable, retry_after) and text in str(err.value)


def test_cancel_makes_no_call():
    calls = []
    run(adapter(lambda r: calls.append(r) or httpx.Response(200)).cancel({"id": "a"}))
    assert calls == []
