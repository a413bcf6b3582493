"""Kling's own API (providers/upstream/kling.py, kling_models.yaml) without a socket: every pair the table maps
builds, from the catalog's examples and extra requests reaching every route, a body Kling's published contract
accepts (tests/support/contracts/kling_schemas.yaml); inputs Kling cannot make are refused before any call; the
JWT is Kling's; results, failures and error codes are classified as the router needs."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import jwt
import pytest

from runapi.catalog import get_catalog
from runapi.catalog.validation import validate
from runapi.providers.base import TaskInput
from runapi.providers.upstream.adapter import Finished, Running, Started
from runapi.providers.upstream.config import MediaDeployment
from runapi.providers.upstream.errors import UpstreamError
from runapi.providers.upstream.kling import Kling, body_code_error
from runapi.providers.upstream.mapping import Context, build
from runapi.providers.upstream.registry import ADAPTERS
from tests.support.first_party import IMG, IMG2, routed, table_requests
from tests.support.upstream_contract import problems

SECRET = "sk-" + "0123456789abcdef" * 2  # Kling secret keys are 32 characters
TABLE = Kling.bundled()
EXTRA: list[tuple[str, str, dict[str, Any]]] = [
    (
        "kling",
        "text_to_video",
        {"model": "kling-3.0", "prompt": "a fox", "aspect_ratio": "16:9", "output_resolution": "4k"},
    ),
    (
        "kling",
        "text_to_video",
        {
            "model": "kling-3.0",
            "first_frame_image_url": IMG,
            "multi_shots": True,
            "enable_sound": True,
            "output_resolution": "1080p",
            "multi_prompt": [
                {"prompt": "a fox runs", "duration_seconds": 3},
                {"prompt": "it sleeps", "duration_seconds": 2},
            ],
        },
    ),
    ("kling", "text_to_video", {"model": "kling-v3-omni", "prompt": "a fox", "output_resolution": "4k"}),
    (
        "kling",
        "text_to_video",
        {
            "model": "kling-v3-omni-reference",
            "prompt": "a fox",
            "aspect_ratio": "9:16",
            "reference_image_urls": [IMG],
            "output_resolution": "4k",
        },
    ),
    ("kling", "text_to_video", {"model": "kling-v2.6", "prompt": "a fox"}),
    ("kling", "image_to_video", {"model": "kling-o1", "prompt": "a fox", "first_frame_image_url": IMG}),
    (
        "kling",
        "image_to_video",
        {"model": "kling-v3-omni", "prompt": "a fox", "first_frame_image_url": IMG, "output_resolution": "4k"},
    ),
    (
        "kling",
        "image_to_video",
        {
            "model": "kling-v3-omni",
            "prompt": "a fox",
            "first_frame_image_url": IMG,
            "last_frame_image_url": IMG2,
            "duration_seconds": 5,
        },
    ),
    (
        "kling",
        "motion_control",
        {"model": "kling-3.0", "source_first_frame_image_url": IMG, "reference_video_url": "https://example.com/v.mp4"},
    ),
]
REQUESTS = table_requests(TABLE, EXTRA)


def test_the_kind_is_registered_and_lists_its_pairs() -> None:
    assert ADAPTERS["kling"] is Kling
    assert ("kling/text_to_video", "kling-3.0") in Kling.pairs()
    assert ("kling/motion_control", "kling-v2.6") in Kling.pairs()
    catalog = get_catalog()
    for action_key, model in Kling.pairs():
        assert model in catalog.action(*action_key.split("/")).models, (action_key, model)


@pytest.mark.parametrize(("action", "model", "request_body"), REQUESTS, ids=lambda v: getattr(v, "key", None))
def test_every_mapped_request_builds_a_body_klings_contract_accepts(action, model, request_body) -> None:
    route, body = routed(TABLE, action, model, request_body)
    if route.refuse:
        assert "Kling's API" in route.refuse
        return
    assert problems("kling", route.app, body) == [], (route.app, body)


def test_every_route_is_reached() -> None:
    reached = set()
    for action, model, request in REQUESTS:
        route, _ = routed(TABLE, action, model, request)
        reached.add((action.key, model, route.app, route.refuse, route.when))
    for (action_key, model), mapping in TABLE.entries.items():
        for route in mapping.routes:
            assert (action_key, model, route.app, route.refuse, route.when) in reached, (action_key, model, route)


def test_bodies_follow_klings_words() -> None:
    catalog = get_catalog()
    t2v = catalog.action("kling", "text_to_video")
    _, multi = routed(TABLE, t2v, "kling-3.0", t2v.examples[1])
    assert multi["multi_shot"] is True and multi["shot_type"] == "customize" and "prompt" not in multi
    assert multi["multi_prompt"][0] == {
        "index": 1,
        "prompt": t2v.examples[1]["multi_prompt"][0]["prompt"],
        "duration": "4",
    }
    assert [s["index"] for s in multi["multi_prompt"]] == [1, 2, 3]
    assert (multi["model_name"], multi["mode"], multi["sound"], multi["duration"]) == ("kling-v3", "pro", "on", "12")
    _, frames = routed(TABLE, t2v, "kling-3.0", t2v.examples[3])
    assert frames["image"] == "https://example.com/first-frame.jpg" and "aspect_ratio" not in frames
    assert (frames["mode"], frames["sound"], frames["prompt"]) == ("std", "off", t2v.examples[3]["prompt"])
    i2v = catalog.action("kling", "image_to_video")
    route, o1 = routed(TABLE, i2v, "kling-o1", i2v.examples[4])
    assert route.app == "/v1/videos/omni-video" and "image" not in o1
    assert o1["image_list"] == [
        {"image_url": "https://example.com/first-frame.jpg", "type": "first_frame"},
        {"image_url": "https://example.com/last-frame.jpg", "type": "end_frame"},
    ]
    _, reference = routed(TABLE, t2v, "kling-o1", t2v.examples[6])
    assert reference["image_list"] == [{"image_url": "https://example.com/character.png"}]
    motion = catalog.action("kling", "motion_control")
    _, defaults = routed(TABLE, motion, "kling-3.0", EXTRA[-1][2])
    assert (defaults["mode"], defaults["character_orientation"]) == ("std", "image")


def test_inputs_kling_cannot_make_are_refused() -> None:
    t2v = get_catalog().action("kling", "text_to_video")
    route, _ = routed(TABLE, t2v, "kling-3.0", t2v.examples[2])  # elements given as images
    assert route.refuse and "elements" in route.refuse
    route, _ = routed(TABLE, t2v, "kling-3.0", EXTRA[0][2])
    assert route.refuse and "4k" in route.refuse


def test_each_items_know_their_number_and_bare_values() -> None:
    """mapping.py: inside `each`, `$_number` counts items from 1 and `$item` is an item that is no object."""
    fields = {
        "shots": {"each": "shots", "item": {"index": "$_number", "text": "$prompt"}},
        "images": {"each": "urls", "item": {"image_url": "$item"}},
    }
    built = build(fields, Context({"shots": [{"prompt": "a"}, {"prompt": "b"}], "urls": [IMG, IMG2]}))
    assert built == {
        "shots": [{"index": 1, "text": "a"}, {"index": 2, "text": "b"}],
        "images": [{"image_url": IMG}, {"image_url": IMG2}],
    }


# --- auth ------------------------------------------------------------------------------------------------


def adapter(api_key: str | None = "ak-1:" + SECRET, handler: Any = None, **kw: Any) -> Kling:
    deployment = MediaDeployment(name="kling", kind="kling", base_url="https://kling.test", api_key=api_key, **kw)
    transport = httpx.MockTransport(handler or (lambda r: httpx.Response(500)))
    return Kling(deployment, httpx.AsyncClient(transport=transport))


def test_the_token_is_klings_jwt_and_is_reused() -> None:
    kling = adapter()
    header = kling._headers()["Authorization"]
    assert header.startswith("Bearer ")
    claims = jwt.decode(header[7:], SECRET, algorithms=["HS256"])
    now = time.time()
    assert claims["iss"] == "ak-1" and now + 1790 <= claims["exp"] <= now + 1801 and claims["nbf"] <= now - 4
    assert jwt.get_unverified_header(header[7:]) == {"alg": "HS256", "typ": "JWT"}
    assert kling._headers()["Authorization"] == header  # cached until shortly before it expires
    kling._token = (time.time() + 30, "old")
    assert kling._headers()["Authorization"] != "Bearer old"
    assert adapter("static-key")._headers() == {"Authorization": "Bearer static-key"}
    assert adapter(None)._headers() == {}


# --- answers -----------------------------------------------------------------------------------------------


def task_for(family: str, action_name: str, request: dict[str, Any]) -> TaskInput:
    action = get_catalog().action(family, action_name)
    model, params = validate(action, dict(request))
    return TaskInput(id="t1", action=action, model=model, params=params)


TASK = task_for("kling", "text_to_video", {"model": "kling-v2.6", "prompt": "a fox", "mode": "pro"})
HANDLE = {"path": "/v1/videos/text2video", "task_id": "123"}


def check(data: dict[str, Any] | None, status: int = 200, headers: dict[str, str] | None = None) -> Any:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/videos/text2video/123"
        return httpx.Response(status, json=data, headers=headers)

    return asyncio.run(adapter(handler=answer).check(TASK, HANDLE))


def test_a_finished_task_gives_its_videos() -> None:
    done = check(
        {"code": 0, "data": {"task_status": "succeed", "task_result": {"videos": [{"url": "https://v/1.mp4"}]}}}
    )
    assert isinstance(done, Finished) and [f.url for f in done.files] == ["https://v/1.mp4"]
    assert done.files[0].kind == "videos"


def test_running_and_rate_limited_polls_keep_waiting() -> None:
    assert isinstance(check({"code": 0, "data": {"task_status": "processing"}}), Running)
    assert isinstance(check({"code": 0, "data": {"task_status": "submitted"}}), Running)
    slowed = check({"code": 1302, "message": "too fast"}, 429, {"Retry-After": "7"})
    assert isinstance(slowed, Running) and slowed.poll_in == 7.0


def test_failed_tasks_move_on_unless_the_content_review_refused() -> None:
    with pytest.raises(UpstreamError) as lost:
        check({"code": 0, "data": {"task_status": "failed", "task_status_msg": "internal error"}})
    assert lost.value.job_failed and lost.value.retryable
    with pytest.raises(UpstreamError) as refused:
        check(
            {"code": 0, "data": {"task_status": "failed", "task_status_msg": "Failure to pass the risk control system"}}
        )
    assert not refused.value.retryable and str(refused.value) == "Failure to pass the risk control system"


def start(status: int, data: dict[str, Any]) -> Started:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json=data)

    kling = adapter(handler=answer, model_map={"kling-v2-6": "kling-v2-6-beta"})
    started = asyncio.run(kling.start(TASK, Context(TASK.params)))
    sent = json.loads(seen[0].content)
    assert seen[0].url.path == "/v1/videos/text2video" and sent["model_name"] == "kling-v2-6-beta"
    return started


def test_submission_answers_and_error_codes() -> None:
    started = start(200, {"code": 0, "data": {"task_id": "99", "task_status": "submitted"}})
    assert started.handle == {"path": "/v1/videos/text2video", "task_id": "99"}
    with pytest.raises(UpstreamError) as policy:
        start(400, {"code": 1301, "message": "Trigger the content security policy of the platform"})
    assert not policy.value.retryable and "code 1301" in str(policy.value)
    with pytest.raises(UpstreamError) as auth:
        start(401, {"code": 1002, "message": "Authorization is invalid"})
    assert auth.value.retryable
    with pytest.raises(UpstreamError) as balance:
        start(429, {"code": 1102, "message": "Resource pack depleted"})
    assert balance.value.retryable and balance.value.rate_limited


def test_codes_inside_http_200_are_classified_like_their_status() -> None:
    assert body_code_error({"code": 0}, "k") is None
    final = body_code_error({"code": 1201, "message": "bad duration"}, "k")
    assert final is not None and not final.retryable and str(final) == "bad duration (code 1201)"
    limited = body_code_error({"code": 1303, "message": "concurrency"}, "k")
    assert limited is not None and limited.retryable and limited.rate_limited
    server = body_code_error({"code": 5001, "message": "maintenance"}, "k")
    assert server is not None and server.retryable and not server.rate_limited


def test_with_webhooks_kling_is_given_our_wake_up_link() -> None:
    seen: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, json={"code": 0, "data": {"task_id": "1"}})

    hooked = adapter(handler=answer, webhooks=True)
    asyncio.run(hooked.start(TASK, Context(TASK.params, webhook_url="https://ours/webhooks/upstream/t1?signature=s")))
    assert seen[0]["callback_url"] == "https://ours/webhooks/upstream/t1?signature=s"
    asyncio.run(adapter(handler=answer).start(TASK, Context(TASK.params, webhook_url="https://ours/x")))
    assert "callback_url" not in seen[1]  # only when the deployment asks for webhooks
