"""xAI's Grok Imagine API (providers/upstream/xai.py, xai_models.yaml) without a socket: every pair the table maps
builds, from the catalog's examples and extra requests reaching every route, a body xAI's published contract and
per-model rules accept; what xAI cannot make (videos over 15 s, fun/spicy motion, an edit without a prompt) is
refused before any call; image answers, video states and moderation are classified as the router needs."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import httpx
import pytest

from runapi.catalog import get_catalog
from runapi.catalog.validation import validate
from runapi.providers.base import TaskInput
from runapi.providers.upstream.adapter import Finished, Running, Started
from runapi.providers.upstream.config import MediaDeployment
from runapi.providers.upstream.errors import UpstreamError
from runapi.providers.upstream.mapping import Context
from runapi.providers.upstream.registry import ADAPTERS
from runapi.providers.upstream.xai import XAI
from tests.support.fake_media import PNG
from tests.support.fake_xai import model_rules
from tests.support.first_party import IMG, routed, table_requests
from tests.support.upstream_contract import problems

TABLE = XAI.bundled()
T2V = {"model": "grok-imagine-text-to-video", "prompt": "a fox"}
EXTRA: list[tuple[str, str, dict[str, Any]]] = [
    ("grok_imagine", "text_to_video", {**T2V, "duration_seconds": 20}),
    ("grok_imagine", "text_to_video", {**T2V, "duration_seconds": 8, "motion_style": "spicy"}),
    ("grok_imagine", "text_to_video", {**T2V, "duration_seconds": 8}),
    (
        "grok_imagine",
        "image_to_video",
        {"model": "grok-imagine-image-to-video", "source_image_urls": [IMG], "prompt": "go", "duration_seconds": 16},
    ),
    (
        "grok_imagine",
        "image_to_video",
        {
            "model": "grok-imagine-image-to-video",
            "source_image_urls": [IMG],
            "prompt": "go",
            "motion_style": "fun",
            "duration_seconds": 6,
        },
    ),
    ("grok_imagine", "edit_image", {"model": "grok-imagine-edit-image", "source_image_url": IMG}),
    ("grok_imagine", "image_to_video", {"model": "grok-imagine-video-1.5-preview", "source_image_url": IMG}),
    (
        "grok_imagine",
        "image_to_video",
        {"model": "grok-imagine-image-to-video", "source_image_urls": [IMG], "duration_seconds": 6},
    ),
]
REQUESTS = table_requests(TABLE, EXTRA)


def test_the_kind_is_registered() -> None:
    assert ADAPTERS["xai"] is XAI
    assert ("grok_imagine/text_to_image", "grok-imagine-text-to-image") in XAI.pairs()


@pytest.mark.parametrize(("action", "model", "request_body"), REQUESTS, ids=lambda v: getattr(v, "key", None))
def test_every_mapped_request_builds_a_body_xai_accepts(action, model, request_body) -> None:
    route, body = routed(TABLE, action, model, request_body)
    if route.refuse:
        assert "xAI" in route.refuse
        return
    endpoint = "/v1" + route.app
    assert problems("xai", endpoint, body) == [] and model_rules(endpoint, body) == [], body


def test_every_route_is_reached() -> None:
    reached = {(a.key, m, routed(TABLE, a, m, r)[0].when) for a, m, r in REQUESTS}
    for (action_key, model), mapping in TABLE.entries.items():
        for route in mapping.routes:
            assert (action_key, model, route.when) in reached, (action_key, model, route)


def test_bodies_follow_xais_words() -> None:
    catalog = get_catalog()
    t2v, i2v, t2i = (catalog.action("grok_imagine", n) for n in ("text_to_video", "image_to_video", "text_to_image"))
    _, body = routed(TABLE, t2v, "grok-imagine-text-to-video", t2v.examples[1])
    assert body == {
        "model": "grok-imagine-video",
        "prompt": t2v.examples[1]["prompt"],
        "duration": 10,
        "aspect_ratio": "16:9",
        "resolution": "720p",
    }
    _, preview = routed(TABLE, t2v, "grok-imagine-video-1.5-preview", t2v.examples[3])
    assert "aspect_ratio" not in preview  # auto: xAI chooses
    assert preview["reference_images"] == [{"url": "https://example.com/lantern.png"}]
    _, animate = routed(TABLE, i2v, "grok-imagine-image-to-video", i2v.examples[0])
    assert animate["image"] == {"url": "https://example.com/image-to-video.jpg"}
    _, pro = routed(TABLE, t2i, "grok-imagine-text-to-image", t2i.examples[0])
    assert (pro["model"], pro["n"], pro["response_format"]) == ("grok-imagine-image-pro", 6, "b64_json")


def test_a_source_task_image_is_sent_as_our_signed_link() -> None:
    action = get_catalog().action("grok_imagine", "image_to_video")
    _, params = validate(action, dict(action.examples[1]))
    mapping = TABLE.get(action.key, "grok-imagine-image-to-video")
    assert mapping is not None
    route = mapping.route(params, "grok-imagine-image-to-video")
    assert route is not None
    links: list[tuple[str, int]] = []

    def link(row: Any, kind: str, index: int) -> str:
        links.append((kind, index))
        return f"https://ours/files/{index}.png"

    ctx = Context(params, refs={"source_task_id": object()}, file_link=link)  # type: ignore[dict-item]
    assert mapping.body(route, ctx)["image"] == {"url": "https://ours/files/0.png"} and links == [("images", 0)]


# --- answers -----------------------------------------------------------------------------------------------


def adapter(handler: Any, **kw: Any) -> XAI:
    deployment = MediaDeployment(name="xai", kind="xai", base_url="https://x.test/v1", api_key="xai-key", **kw)
    return XAI(deployment, httpx.AsyncClient(transport=httpx.MockTransport(handler)))


def task_for(family: str, name: str, request: dict[str, Any]) -> TaskInput:
    action = get_catalog().action(family, name)
    model, params = validate(action, dict(request))
    return TaskInput(id="t1", action=action, model=model, params=params)


VIDEO = task_for("grok_imagine", "text_to_video", {**T2V, "duration_seconds": 6})


def check(answer: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Any:
    def reply(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/videos/req-1" and request.headers["authorization"] == "Bearer xai-key"
        return httpx.Response(status, json=answer, headers=headers)

    return asyncio.run(adapter(reply).check(VIDEO, {"request_id": "req-1"}))


def test_video_states() -> None:
    assert isinstance(check({"status": "pending"}), Running)
    done = check(
        {"status": "done", "video": {"url": "https://vidgen/1.mp4", "duration": 6, "respect_moderation": True}}
    )
    assert isinstance(done, Finished) and [(f.kind, f.url) for f in done.files] == [("videos", "https://vidgen/1.mp4")]
    slowed = check({"code": "Too many requests", "error": "slow"}, 429, {"Retry-After": "4"})
    assert isinstance(slowed, Running) and slowed.poll_in == 4.0
    with pytest.raises(UpstreamError) as expired:
        check({"status": "expired"})
    assert expired.value.job_failed
    with pytest.raises(UpstreamError) as blocked:
        check({"status": "done", "video": {"url": "https://vidgen/1.mp4", "respect_moderation": False}})
    assert not blocked.value.retryable


def test_images_are_answered_at_once_and_videos_start_jobs() -> None:
    sent: list[tuple[str, dict[str, Any]]] = []

    def reply(request: httpx.Request) -> httpx.Response:
        sent.append((request.url.path, json.loads(request.content)))
        if request.url.path == "/v1/videos/generations":
            return httpx.Response(200, json={"request_id": "req-9"})
        return httpx.Response(
            200, json={"data": [{"b64_json": base64.b64encode(PNG).decode()}, {"url": "https://imgen/2.jpg"}]}
        )

    xai = adapter(reply, model_map={"grok-imagine-image": "grok-imagine-image-beta"})
    image_task = task_for("grok_imagine", "text_to_image", {"model": "grok-imagine-text-to-image", "prompt": "a fox"})
    made = asyncio.run(xai.start(image_task, Context(image_task.params)))
    assert isinstance(made, Finished) and made.files[0].data == PNG and made.files[1].url == "https://imgen/2.jpg"
    assert sent[-1][0] == "/v1/images/generations" and sent[-1][1]["model"] == "grok-imagine-image-beta"
    started = asyncio.run(xai.start(VIDEO, Context(VIDEO.params)))
    assert isinstance(started, Started) and started.handle == {"request_id": "req-9"}


def test_a_content_policy_refusal_is_final_and_keeps_xais_words() -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            400, json={"code": "Client specified an invalid argument", "error": "Rejected by moderation"}
        )

    with pytest.raises(UpstreamError) as refused:
        asyncio.run(adapter(reply).start(VIDEO, Context(VIDEO.params)))
    assert not refused.value.retryable and str(refused.value) == "Rejected by moderation"
