"""The DashScope (Model Studio) adapter without a socket: its table names real actions, models and parameters;
every body it builds (catalog examples and requests reaching every route) passes the transcribed Model Studio
schema, every route is reached, refusals happen before any call; task results and errors are read as
documented; and mapping.py's `concat` / `$item` specs."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from runapi.catalog import get_catalog
from runapi.providers.upstream.config import MediaDeployment
from runapi.providers.upstream.dashscope import SERVICES, DashScope, dashscope_table, error_message, result_of
from runapi.providers.upstream.errors import UpstreamError
from runapi.providers.upstream.mapping import Context, Table, build
from runapi.providers.upstream.registry import ADAPTERS
from tests.support.fake_dashscope import (
    IMG,
    VID,
    dashscope_requests,
    edit_size,
    refusal,
    schemas,
    validator,
    wan_image_size,
    with_defaults,
    z_image_size,
)
from tests.support.first_party import param_names


def body_for(action, model: str, request: dict[str, Any]) -> tuple[str | None, str, dict[str, Any]]:
    """(refusal message or None, endpoint, body) as the adapter would send it."""
    params = with_defaults(action, model, request)
    mapping = dashscope_table().get(action.key, model)
    route = mapping.route(params, model)
    if route.refuse is not None:
        return route.refuse, "", {}
    service, _, upstream = route.app.partition("/")
    return None, route.app, {"model": upstream, **mapping.body(route, Context(params))}


def test_the_kind_is_registered_and_lists_its_pairs():
    assert ADAPTERS["dashscope"] is DashScope
    assert DashScope.default_base_url == "https://dashscope-intl.aliyuncs.com/api/v1"
    pairs = DashScope.pairs()
    assert ("wan/text_to_video", "wan-2.7-r2v") in pairs and ("wan/edit_video", "wan-2.7-edit-video") in pairs
    assert ("z_image/text_to_image", "z-image") in pairs and len(pairs) == 16


def test_table_names_real_actions_models_and_params():
    catalog = get_catalog()
    for (action_key, model), mapping in dashscope_table().entries.items():
        action = catalog.action(*action_key.split("/"))
        assert action is not None and model in action.models, (action_key, model)
        for route in mapping.routes:
            names: set[str] = set()
            param_names(list(route.input.values()), names)
            unknown = names - set(action.params) - {"item"}  # $item: a plain list's element
            assert not unknown, f"{action_key}/{model} -> {route.app}: unknown params {unknown}"


def test_every_endpoint_the_table_uses_has_a_schema():
    apps = {r.app for m in dashscope_table().entries.values() for r in m.routes if r.refuse is None}
    assert {app.partition("/")[0] for app in apps} <= set(SERVICES)  # every route names a known endpoint
    assert apps <= set(schemas()), apps - set(schemas())
    for app in apps:
        assert validator(app) is not None


def test_every_body_passes_model_studios_schema():
    """Catalog examples and the extra requests: a field Model Studio does not define, a missing required one, a
    wrong type or value fails here."""
    sent = 0
    for action, model, request in dashscope_requests():
        refused, endpoint, body = body_for(action, model, request)
        if refused is None:
            assert refusal(endpoint, body) is None, (action.key, request, body, refusal(endpoint, body))
            sent += 1
    assert sent >= 20


def test_every_route_is_reached_by_some_request():
    reached = set()
    for action, model, request in dashscope_requests():
        params = with_defaults(action, model, request)
        route = dashscope_table().get(action.key, model).route(params, model)
        reached.add((action.key, model, route.app, route.refuse))
    for (action_key, model), mapping in dashscope_table().entries.items():
        for route in mapping.routes:
            assert (action_key, model, route.app, route.refuse) in reached, (action_key, model, route)


def bodies(family: str, action: str, request: dict[str, Any]) -> dict[str, Any]:
    act = get_catalog().action(family, action)
    refused, _, body = body_for(act, request["model"], request)
    assert refused is None, refused
    return body


def test_wan_2_6_size_is_width_star_height_from_aspect_and_resolution():
    t2v = {"model": "wan-2.6-text-to-video", "prompt": "a fox"}
    assert bodies("wan", "text_to_video", {**t2v, "aspect_ratio": "3:4", "output_resolution": "1080p"})[
        "parameters"
    ] == {"size": "1248*1632"}
    assert bodies("wan", "text_to_video", {**t2v, "aspect_ratio": "9:16"})["parameters"]["size"] == "720*1280"
    assert bodies("wan", "text_to_video", {**t2v, "output_resolution": "1080p"})["parameters"]["size"] == "1920*1080"
    # nothing asked: our default 720p (Model Studio's own default is 1080P, priced higher)
    assert bodies("wan", "text_to_video", {**t2v, "duration_seconds": 5})["parameters"] == {
        "size": "1280*720",
        "duration": 5,
    }


def test_wan_2_7_bodies_use_the_new_protocol():
    body = bodies(
        "wan",
        "text_to_video",
        {
            "model": "wan-2.7-r2v",
            "prompt": "Image 1 and Video 1",
            "reference_image_urls": [IMG, IMG],
            "reference_video_urls": [VID],
            "first_frame_image_url": IMG,
            "enable_prompt_expansion": False,
        },
    )
    assert body["model"] == "wan2.7-r2v"
    assert body["input"]["media"] == [
        {"type": "reference_image", "url": IMG},
        {"type": "reference_image", "url": IMG},
        {"type": "reference_video", "url": VID},
        {"type": "first_frame", "url": IMG},
    ]
    assert body["parameters"] == {"resolution": "720P", "prompt_extend": False}
    i2v = bodies(
        "wan", "image_to_video", {"model": "wan-2.7-image-to-video", "prompt": "go", "first_frame_image_url": IMG}
    )
    assert i2v["input"]["media"] == [{"type": "first_frame", "url": IMG}]
    edit = bodies("wan", "edit_video", {"model": "wan-2.7-edit-video", "source_video_url": VID, "aspect_ratio": "1:1"})
    assert edit["model"] == "wan2.7-videoedit" and edit["input"]["media"] == [{"type": "video", "url": VID}]
    assert edit["parameters"] == {"resolution": "720P", "ratio": "1:1"}


def test_images_use_the_messages_format_and_sizes_model_studio_accepts():
    body = bodies(
        "wan",
        "text_to_image",
        {
            "model": "wan-2.7-image",
            "prompt": "edit",
            "source_image_urls": [IMG],
            "aspect_ratio": "16:9",
            "output_resolution": "1k",
        },
    )
    assert body["input"] == {"messages": [{"role": "user", "content": [{"text": "edit"}, {"image": IMG}]}]}
    assert body["parameters"] == {"size": "1360*768", "n": 1}
    for (action_key, model), mapping in dashscope_table().entries.items():
        if action_key != "wan/text_to_image":
            continue
        table = mapping.routes[-1].input["parameters"]["object"]["size"]["map"]
        for key, size in table.items():
            text_only = {
                "model": f"wan2.7-image{'-pro' if model.endswith('pro') else ''}",
                "input": {"messages": [{"role": "user", "content": [{"text": "x"}]}]},
                "parameters": {"size": size},
            }
            if key.endswith("4k") and not model.endswith("pro"):
                continue  # refused before any call (test_every_route_is_reached_by_some_request)
            assert wan_image_size(text_only["model"], text_only) is None, (model, key, size)
    assert wan_image_size(
        "wan2.7-image", {"input": {"messages": [{"content": [{"text": "x"}]}]}, "parameters": {"size": "4K"}}
    )
    z = bodies("z_image", "text_to_image", {"model": "z-image", "prompt": "a fox", "aspect_ratio": "16:9"})
    assert z["parameters"] == {"size": "1704*960", "prompt_extend": False} and z_image_size(z) is None
    edit = bodies(
        "qwen_2",
        "edit_image",
        {"model": "qwen-2-edit-image", "prompt": "a hat", "source_image_url": IMG, "aspect_ratio": "21:9"},
    )
    assert edit["model"] == "qwen-image-edit-plus" and edit["parameters"] == {
        "size": "1552*656",
        "prompt_extend": False,
    }
    assert edit["input"]["messages"][0]["content"] == [{"image": IMG}, {"text": "a hat"}]
    sizes = dashscope_table().get("qwen_2/edit_image", "qwen-2-edit-image").routes[-1].input["parameters"]["object"]
    assert all(edit_size({"parameters": {"size": v}}) is None for v in sizes["size"]["map"].values())
    assert edit_size({"parameters": {"size": "2560*1080"}})
    qwen = bodies("qwen_2", "text_to_image", {"model": "qwen-2-text-to-image", "prompt": "a fox"})
    assert qwen["parameters"]["size"] == "1664*928"  # our default aspect, 16:9


def test_the_fake_refuses_what_model_studio_refuses():
    ok = {"model": "wan2.6-t2v", "input": {"prompt": "x"}, "parameters": {"size": "1280*720", "duration": 5}}
    assert refusal("video/wan2.6-t2v", ok) is None
    assert refusal("video/wan2.6-t2v", {**ok, "parameters": {"size": "16:9"}})
    assert refusal("video/wan2.6-t2v", {**ok, "parameters": {"duration": 16}})
    assert refusal("video/wan2.6-t2v", {**ok, "input": {"prompt": "x", "image_url": IMG}})
    assert refusal("video/wan2.6-t2v", {"model": "wan2.6-t2v", "parameters": {}})
    assert refusal("video/wan9-t2v", ok) == "Model not exist."
    assert z_image_size({"parameters": {"size": "4096*4096"}})


# --- the adapter: results, errors, refusals without a call ---------------------------------------------------


def test_results_are_read_from_every_documented_shape():
    assert result_of({"video_url": "v"}) == {"video_url": "v"}
    assert result_of({"results": {"video_url": "a"}})["video_url"] == "a"  # image2video (animate)
    choices = {"choices": [{"message": {"content": [{"type": "image", "image": "a"}, {"image": "b"}]}}]}
    assert result_of(choices)["images"] == ["a", "b"]
    assert error_message({"code": "InvalidApiKey", "message": "Invalid API-key provided."}) == (
        "Invalid API-key provided."
    )
    assert error_message({"output": {"task_status": "FAILED", "code": "InternalError"}}) == "InternalError"
    assert error_message("nope") is None


class Script:
    """A stand-in for the shared HTTP client: answers each request from a list, records what was asked."""

    def __init__(self, *answers: httpx.Response):
        self.answers = list(answers)
        self.asked: list[dict[str, Any]] = []

    async def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        self.asked.append({"method": method, "url": url, **kw})
        answer = self.answers.pop(0)
        answer.request = httpx.Request(method, url)
        return answer


def adapter(*answers: httpx.Response) -> tuple[DashScope, Script]:
    http = Script(*answers)
    deployment = MediaDeployment(
        name="ds",
        kind="dashscope",
        base_url="https://ds.example/api/v1",
        api_key="sk-1",
        model_map={"wan2.7-t2v": "wan2.7-t2v-2026-04-25"},
    )
    return DashScope(deployment, http), http  # type: ignore[arg-type]


def task(family: str, action: str, model: str) -> Any:
    act = get_catalog().action(family, action)
    return SimpleNamespace(action=act, model=act.models[model], params={})


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_start_submits_async_with_the_header_and_the_mapped_model():
    ds, http = adapter(httpx.Response(200, json={"output": {"task_id": "t1", "task_status": "PENDING"}}))
    t = task("wan", "text_to_video", "wan-2.7-text-to-video")
    t.params = {"prompt": "a fox", "ratio": "16:9"}
    started = run(ds.start(t, Context(t.params)))
    asked = http.asked[0]
    assert asked["url"] == "https://ds.example/api/v1/services/aigc/video-generation/video-synthesis"
    assert asked["headers"] == {"Authorization": "Bearer sk-1", "X-DashScope-Async": "enable"}
    assert asked["json"]["model"] == "wan2.7-t2v-2026-04-25"  # model_map
    assert started.handle["task_id"] == "t1"


def test_synchronous_models_finish_at_once():
    image = {"choices": [{"message": {"content": [{"image": "https://oss.example/x.png"}]}}]}
    ds, http = adapter(httpx.Response(200, json={"output": image}))
    t = task("z_image", "text_to_image", "z-image")
    t.params = {"prompt": "a fox", "aspect_ratio": "1:1"}
    finished = run(ds.start(t, Context(t.params)))
    assert [f.url for f in finished.files] == ["https://oss.example/x.png"]
    assert "X-DashScope-Async" not in http.asked[0]["headers"]


def test_a_refused_value_makes_no_call():
    ds, http = adapter()
    t = task("wan", "text_to_video", "wan-2.7-text-to-video")
    t.params = {"prompt": "a fox", "ratio": "21:9"}
    with pytest.raises(UpstreamError) as err:
        run(ds.start(t, Context(t.params)))
    assert err.value.out_of_reach and not err.value.retryable and not http.asked


def test_a_model_the_region_lacks_goes_to_the_next_deployment():
    ds, _ = adapter(httpx.Response(400, json={"code": "InvalidParameter", "message": "Model not exist."}))
    t = task("z_image", "text_to_image", "z-image")
    t.params = {"prompt": "a fox", "aspect_ratio": "1:1"}
    with pytest.raises(UpstreamError) as err:
        run(ds.start(t, Context(t.params)))
    assert err.value.retryable and not err.value.job_failed and "does not offer" in str(err.value)


@pytest.mark.parametrize(
    ("status", "code", "retryable"),
    [
        (401, "InvalidApiKey", True),
        (429, "Throttling.RateQuota", True),
        (500, "InternalError", True),
        (400, "InvalidParameter", False),
        (400, "DataInspectionFailed", False),
    ],
)
def test_submission_errors_are_classified(status, code, retryable):
    ds, _ = adapter(httpx.Response(status, json={"code": code, "message": f"{code} said", "request_id": "r"}))
    t = task("z_image", "text_to_image", "z-image")
    t.params = {"prompt": "a fox", "aspect_ratio": "1:1"}
    with pytest.raises(UpstreamError) as err:
        run(ds.start(t, Context(t.params)))
    assert err.value.retryable is retryable and err.value.status == status and f"{code} said" in str(err.value)


def poll(answer: httpx.Response) -> Any:
    ds, http = adapter(answer)
    t = task("wan", "text_to_video", "wan-2.6-text-to-video")
    return run(ds.check(t, {"task_id": "t1", "meta": {}})), http


def test_task_states_are_read_as_documented():
    running, http = poll(httpx.Response(200, json={"output": {"task_id": "t1", "task_status": "RUNNING"}}))
    assert running.poll_in is None and http.asked[0]["url"] == "https://ds.example/api/v1/tasks/t1"
    done, _ = poll(httpx.Response(200, json={"output": {"task_status": "SUCCEEDED", "video_url": "https://o/v.mp4"}}))
    assert [(f.kind, f.url) for f in done.files] == [("videos", "https://o/v.mp4")]
    throttled, _ = poll(httpx.Response(429, json={"code": "Throttling"}, headers={"Retry-After": "7"}))
    assert throttled.poll_in == 7.0


@pytest.mark.parametrize(
    ("output", "retryable", "job_failed"),
    [
        ({"task_status": "FAILED", "code": "DataInspectionFailed", "message": "inappropriate"}, False, False),
        ({"task_status": "FAILED", "code": "InvalidParameter", "message": "bad size"}, False, False),
        ({"task_status": "FAILED", "code": "InternalError", "message": "oops"}, True, True),
        ({"task_status": "UNKNOWN"}, True, True),
        ({"task_status": "CANCELED"}, False, False),
        ({"task_status": "SUCCEEDED"}, True, True),  # no video: lost
    ],
)
def test_failed_tasks_are_classified(output, retryable, job_failed):
    with pytest.raises(UpstreamError) as err:
        poll(httpx.Response(200, json={"output": output}))
    assert err.value.retryable is retryable and err.value.job_failed is job_failed
    if "message" in output and not retryable:
        assert str(err.value) == output["message"]  # the task's own error, as Model Studio worded it


def test_cancel_posts_to_the_task_and_ignores_refusals():
    ds, http = adapter(httpx.Response(400, json={"code": "UnsupportedOperation", "message": "running"}))
    run(ds.cancel({"task_id": "t9"}))
    assert http.asked[0]["method"] == "POST" and http.asked[0]["url"].endswith("/tasks/t9/cancel")


# --- mapping.py: concat and plain-list items -------------------------------------------------------------


def test_concat_splices_lists_appends_values_and_skips_missing():
    spec = {
        "concat": [
            {"object": {"text": "$prompt"}},
            {"each": "urls", "item": {"image": "$item"}},
            {"object": {"video": "$video"}, "when": "video is set"},
        ]
    }
    ctx = Context({"prompt": "p", "urls": ["a", "b"]})
    assert build({"content": spec}, ctx) == {"content": [{"text": "p"}, {"image": "a"}, {"image": "b"}]}
    assert build({"content": {"concat": ["$nothing"]}}, Context({})) == {}  # empty: left out
    with pytest.raises(ValueError):
        Table({"a/b": {"models": {"m": {"app": "x", "input": {"f": {"concat": "$p"}}}}}})
