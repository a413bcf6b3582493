"""kie.ai without a socket: the mapping table names real actions, models and parameters; every body it builds
(from the catalog's examples and requests reaching every route) passes kie's published schema for that model or
API; refusals refuse; kie's envelope codes, poll answers and failure messages are read as documented. The
adapter over HTTP (a local fake kie) is in tests/e2e/test_upstream_kie.py."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from runapi.catalog import get_catalog
from runapi.catalog.validation import validate
from runapi.providers.base import TaskInput
from runapi.providers.upstream import kie
from runapi.providers.upstream.config import MediaDeployment
from runapi.providers.upstream.errors import UpstreamError
from runapi.providers.upstream.kie import KieAI, kie_table
from runapi.providers.upstream.mapping import Context
from runapi.providers.upstream.registry import ADAPTERS
from tests.support import kie_contract

IMG = "https://example.com/a.png"
VID = "https://example.com/a.mp4"
HOOK = "https://runapi.example/webhooks/upstream/t1?signature=s"
# Requests reaching the routes the catalog's own examples do not reach. A referenced task that ran on the same
# kie deployment is given as `upstream:source_task_id` (what KieAI.upstream_params adds).
ROUTE_EXAMPLES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "runway",
        "text_to_video",
        {"prompt": "a fox", "duration_seconds": 5, "output_resolution": "1080p", "aspect_ratio": "4:3"},
    ),
    (
        "runway",
        "text_to_video",
        {"prompt": "a fox", "duration_seconds": 5, "output_resolution": "720p", "aspect_ratio": "21:9"},
    ),
    (
        "runway",
        "extend_video",
        {
            "source_task_id": "t0",
            "upstream:source_task_id": "kie-1",
            "prompt": "more",
            "output_resolution": "720p",
            "watermark": "x",
        },
    ),
    ("grok_imagine", "text_to_image", {"model": "grok-imagine-text-to-image", "prompt": "a fox", "enable_pro": True}),
    (
        "grok_imagine",
        "text_to_video",
        {"model": "grok-imagine-text-to-video", "prompt": "a fox", "duration_seconds": 8},
    ),
    (
        "grok_imagine",
        "image_to_video",
        {
            "model": "grok-imagine-image-to-video",
            "source_task_id": "t0",
            "upstream:source_task_id": "kie-1",
            "index": 3,
            "duration_seconds": 10,
        },
    ),
    (
        "grok_imagine",
        "image_to_video",
        {"model": "grok-imagine-image-to-video", "source_task_id": "t0", "duration_seconds": 6},
    ),
    (
        "grok_imagine",
        "image_to_video",
        {"model": "grok-imagine-image-to-video", "source_image_urls": [IMG], "duration_seconds": 7},
    ),
    ("grok_imagine", "upscale_image", {"source_task_id": "t0", "upstream:source_task_id": "kie-1"}),
    ("veo_3_1", "text_to_video", {"model": "veo-3.1", "prompt": "a lake", "duration_seconds": 8}),
    (
        "veo_3_1",
        "text_to_video",
        {
            "model": "veo-3.1",
            "prompt": "a lake",
            "input_mode": "first_and_last_frames",
            "first_frame_image_url": IMG,
            "aspect_ratio": "auto",
        },
    ),
    ("veo_3_1", "text_to_video", {"model": "veo-3.1-fast", "prompt": "a lake", "duration_seconds": 4}),
    ("kling", "text_to_video", {"model": "kling-3.0", "prompt": "a fox", "output_resolution": "4k"}),
    (
        "kling",
        "text_to_video",
        {
            "model": "kling-3.0",
            "multi_shots": True,
            "enable_sound": True,
            "first_frame_image_url": IMG,
            "multi_prompt": [{"prompt": "a", "duration_seconds": 3}],
        },
    ),
    ("kling", "text_to_video", {"model": "kling-v2.6", "prompt": "a fox", "duration_seconds": 5}),
    ("kling", "image_to_video", {"model": "kling-v2.6", "prompt": "a fox", "first_frame_image_url": IMG}),
    (
        "nano_banana",
        "text_to_image",
        {
            "model": "nano-banana",
            "prompt": "a fox",
            "reference_image_urls": [IMG],
            "output_format": "jpg",
            "aspect_ratio": "4:5",
        },
    ),
    ("imagen_4", "text_to_image", {"model": "imagen-4-ultra", "prompt": "a fox", "seed": 12}),
    ("seedance", "text_to_video", {"model": "seedance-2.5", "prompt": "a bud opens", "output_resolution": "1080p"}),
    ("seedance", "text_to_video", {"model": "seedance-2.5", "prompt": "a bud opens", "aspect_ratio": "auto"}),
    # the referenced task ran elsewhere: kie has no id for it
    ("runway", "extend_video", {"source_task_id": "t0", "prompt": "more", "output_resolution": "720p"}),
    ("grok_imagine", "upscale_image", {"source_task_id": "t0"}),
    ("veo_3_1", "extend_video", {"source_task_id": "t0", "prompt": "more"}),
    ("veo_3_1", "upscale_video", {"source_task_id": "t0", "output_resolution": "1080p"}),
]
# Requests the table must refuse (kie cannot make them), with the start of the message.
REFUSED = {
    ("runway", "text_to_video", 10, "1080p"): "kie's Runway makes 1080p videos of 5 seconds only",
}


def adapter() -> KieAI:
    return KieAI(MediaDeployment(name="kie-a", kind="kie", base_url="https://api.kie.ai"), httpx.AsyncClient())


def requests() -> list[tuple[Any, str, dict[str, Any]]]:
    """(action, model, request) for every catalog example of a kie-mapped pair, and ROUTE_EXAMPLES."""
    catalog = get_catalog()
    out = []
    for action_key, model in kie_table().entries:
        action = catalog.action(*action_key.split("/"))
        for ex in action.examples:
            if model_of(action, ex) == model:
                body = dict(ex)
                if "source_task_id" in body:  # as if the referenced task ran on this deployment
                    body["upstream:source_task_id"] = "kie-src"
                out.append((action, model, body))
    for family, name, body in ROUTE_EXAMPLES:
        action = catalog.action(family, name)
        out.append((action, model_of(action, body), body))
    return out


def model_of(action: Any, body: dict[str, Any]) -> str:
    """The model a request runs: its own, the action's default, or the one model of an action without one."""
    return str(body.get("model") or action.default_model or next(iter(action.models)))


def params_of(action: Any, body: dict[str, Any]) -> dict[str, Any]:
    """The parameters a task runs with: the request validated as the API does (defaults, totals), plus the
    `upstream:` ids the adapter adds."""
    _, params = validate(action, {k: v for k, v in body.items() if not k.startswith("upstream:")})
    return {**params, **{k: v for k, v in body.items() if k.startswith("upstream:")}}


def build(action: Any, model: str, body: dict[str, Any]) -> tuple[Any, tuple[str, str, dict[str, Any]] | None]:
    params = params_of(action, {"model": model, **body} if "model" in action.params else body)
    mapping = kie_table().get(action.key, model)
    route = mapping.route(params, model)
    if route.refuse is not None:
        return route, None
    return route, adapter().request(route, mapping, Context(params=params, webhook_url=HOOK))


def test_kind_is_registered_and_lists_its_pairs():
    assert ADAPTERS["kie"] is KieAI
    assert ("runway/text_to_video", "runway") in KieAI.pairs()
    assert ("luma/modify_video", "luma-modify-video") in KieAI.pairs()


def test_table_names_real_actions_models_and_params():
    catalog = get_catalog()
    for (action_key, model), mapping in kie_table().entries.items():
        action = catalog.action(*action_key.split("/"))
        assert action is not None and model in action.models, (action_key, model)
        for route in mapping.routes:
            names = {n for n in _names(route.input) if not n.startswith("upstream:")}
            assert names <= set(action.params), (action_key, model, route.app, names - set(action.params))
            refs = {n.split(":", 1)[1] for n in _names(route.input) if n.startswith("upstream:")}
            assert all(action.params[r].task_ref for r in refs), (action_key, refs)


def _names(spec: Any) -> set[str]:
    if isinstance(spec, str) and spec.startswith("$"):
        return {spec[1:]}
    if isinstance(spec, list):
        return set().union(*(_names(s) for s in spec)) if spec else set()
    if isinstance(spec, dict):
        found = {spec[k] for k in ("param", "task_file", "each") if k in spec}
        for inner in spec.values():
            if isinstance(inner, (dict, list)):
                found |= _names(inner)
        return found
    return set()


def test_schema_table_has_every_model_and_api_the_table_uses():
    apps = {r.app for m in kie_table().entries.values() for r in m.routes if r.refuse is None}
    assert apps == set(kie_contract.schemas()), "kie_schemas.yaml and kie_models.yaml differ"
    for app in apps:
        assert kie.api_for(app) is (kie.MODEL_APIS[app] if app.startswith("/") else kie.MARKET)
        assert kie_contract.validator(app) is not None


@pytest.mark.parametrize(("action", "model", "body"), requests(), ids=lambda v: getattr(v, "key", None))
def test_every_body_passes_kies_schema(action, model, body):
    route, built = build(action, model, body)
    if built is None:
        return  # a refusal: checked below
    method, path, sent = built
    if method == "GET":  # kie's 1080p Veo version: the query is the request
        assert path == route.app and "callBackUrl" not in sent
        assert kie_contract.refusals(route.app, sent) == [], (action.key, body, sent)
    elif route.app.startswith("/"):
        assert path == route.app and sent["callBackUrl"] == HOOK
        assert kie_contract.refusals(route.app, sent) == [], (action.key, body, sent)
    else:
        assert (method, path) == ("POST", "/api/v1/jobs/createTask")
        assert sent["model"] == route.app and sent["callBackUrl"] == HOOK
        assert kie_contract.refusals(route.app, sent["input"]) == [], (action.key, body, sent)


def test_every_route_has_a_request_that_reaches_it():
    reached = {(a.key, m, build(a, m, b)[0].app or build(a, m, b)[0].refuse) for a, m, b in requests()}
    for (action_key, model), mapping in kie_table().entries.items():
        for route in mapping.routes:
            assert (action_key, model, route.app or route.refuse) in reached, (action_key, model, route)


def test_refusals_name_what_kie_cannot_make():
    action = get_catalog().action("runway", "text_to_video")
    route, built = build(
        action, "runway", {"prompt": "x", "duration_seconds": 10, "output_resolution": "1080p", "aspect_ratio": "16:9"}
    )
    assert built is None and route.refuse == REFUSED[("runway", "text_to_video", 10, "1080p")]
    route, built = build(
        action,
        "runway",
        {
            "prompt": "x",
            "duration_seconds": 10,
            "output_resolution": "720p",
            "first_frame_image_url": IMG,
            "aspect_ratio": "21:9",
        },
    )
    assert built is not None and "aspectRatio" not in built[2] and built[2]["imageUrl"] == IMG
    extend = get_catalog().action("runway", "extend_video")
    route, built = build(extend, "runway", {"source_task_id": "t0", "prompt": "x", "output_resolution": "720p"})
    assert built is None and "same kie account" in route.refuse
    veo = get_catalog().action("veo_3_1", "text_to_video")
    route, built = build(veo, "veo-3.1-fast", {"prompt": "x", "duration_seconds": 6})
    assert built is None and route.refuse == "kie's Veo 3.1 makes 8-second videos only"


def test_veo_bodies():
    veo = get_catalog().action("veo_3_1", "text_to_video")
    _, (_, _, body) = build(
        veo,
        "veo-3.1-fast",
        {
            "prompt": "x",
            "input_mode": "first_and_last_frames",
            "first_frame_image_url": IMG,
            "last_frame_image_url": VID,
            "aspect_ratio": "auto",
            "seeds": 12345,
        },
    )
    assert body == {
        "prompt": "x",
        "aspectRatio": "Auto",
        "seeds": 12345,
        "enableTranslation": True,
        "model": "veo3_fast",
        "generationType": "FIRST_AND_LAST_FRAMES_2_VIDEO",
        "imageUrls": [IMG, VID],
        "callBackUrl": HOOK,
    }
    upscale = get_catalog().action("veo_3_1", "upscale_video")
    _, built = build(
        upscale,
        "veo-3.1",
        {"source_task_id": "t0", "upstream:source_task_id": "kie-3", "output_resolution": "1080p", "index": 0},
    )
    assert built == ("GET", "/api/v1/veo/get-1080p-video", {"taskId": "kie-3", "index": 0})


def test_bodies_carry_our_values_in_kies_words():
    action = get_catalog().action("runway", "text_to_video")
    _, (_, _, body) = build(
        action,
        "runway",
        {
            "prompt": "a fox",
            "duration_seconds": 5,
            "output_resolution": "1080p",
            "aspect_ratio": "4:3",
            "watermark": "Brand",
        },
    )
    assert body == {
        "prompt": "a fox",
        "duration": 5,
        "quality": "1080p",
        "aspectRatio": "4:3",
        "waterMark": "Brand",
        "callBackUrl": HOOK,
    }
    grok = get_catalog().action("grok_imagine", "image_to_video")
    _, (_, _, sent) = build(
        grok,
        "grok-imagine-image-to-video",
        {
            "source_task_id": "t0",
            "upstream:source_task_id": "kie-9",
            "index": 2,
            "motion_style": "spicy",
            "duration_seconds": 10,
        },
    )
    assert sent["input"] == {"task_id": "kie-9", "index": 2, "mode": "spicy", "duration": "10"}
    params = {"prompt": "x"}
    without_hook = adapter().request(
        *_route_and_mapping("luma/modify_video", "luma-modify-video", {"prompt": "x", "source_video_url": VID}),
        Context(params={**params, "source_video_url": VID}),
    )
    assert without_hook == ("POST", "/api/v1/modify/generate", {"prompt": "x", "videoUrl": VID})


def _route_and_mapping(action_key: str, model: str, params: dict[str, Any]):
    mapping = kie_table().get(action_key, model)
    return mapping.route(params, model), mapping


def test_model_map_renames_a_market_model():
    kie_a = KieAI(
        MediaDeployment(name="k", kind="kie", model_map={"grok-imagine/upscale": "grok-imagine/upscale-v2"}),
        httpx.AsyncClient(),
    )
    route, mapping = _route_and_mapping(
        "grok_imagine/upscale_image",
        "grok-imagine-upscale-video",
        {"source_task_id": "t", "upstream:source_task_id": "kie-1"},
    )
    _, _, body = kie_a.request(route, mapping, Context(params={"upstream:source_task_id": "kie-1"}))
    assert body == {"model": "grok-imagine/upscale-v2", "input": {"task_id": "kie-1"}}


def test_upstream_task_ids_only_for_tasks_this_deployment_ran():
    def row(deployment: str, task_id: str | None) -> Any:
        handle = {"taskId": task_id} if task_id else {}
        return SimpleNamespace(provider_job={"stage": "upstream", "deployment": deployment, "handle": handle})

    task = SimpleNamespace(params={"prompt": "x"}, refs={"source_task_id": row("kie-a", "kie-7")})
    assert adapter().upstream_params(task)["upstream:source_task_id"] == "kie-7"  # type: ignore[arg-type]
    for other in (row("kie-b", "kie-7"), row("kie-a", None), SimpleNamespace(provider_job=None)):
        task = SimpleNamespace(params={"prompt": "x"}, refs={"source_task_id": other})
        assert "upstream:source_task_id" not in adapter().upstream_params(task)  # type: ignore[arg-type]


# --- kie's answers ---------------------------------------------------------------------------------------


def answer(body: Any, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def test_envelope_success_and_error_codes():
    assert kie.read_envelope(answer({"code": 200, "msg": "success", "data": {"taskId": "t"}}), "kie") == {"taskId": "t"}
    for code in (401, 402, 404, 455, 500, 501, 505):
        err = _raised(answer({"code": code, "msg": "nope", "data": None}))
        assert err.retryable and not err.rate_limited and err.status == code, code
        assert err.args[0] == f"kie answered {code}: nope"
    for code in (400, 422, 451):
        err = _raised(answer({"code": code, "msg": "prompt is required", "data": None}))
        assert not err.retryable and err.args[0] == "prompt is required", code
    err = _raised(answer({"code": 429, "msg": "slow down"}, 429, **{"Retry-After": "30"}))
    assert err.rate_limited and err.retry_after == 30.0
    err = _raised(answer({"detail": "gateway"}, 502))  # no envelope code: the HTTP status speaks
    assert err.retryable and err.status == 502
    err = _raised(httpx.Response(503, text="<html>down</html>"))
    assert err.retryable and err.status == 503
    with pytest.raises(UpstreamError, match="unexpected JSON"):
        kie.read_envelope(httpx.Response(200, text="[]"), "kie")


def _raised(resp: httpx.Response) -> UpstreamError:
    with pytest.raises(UpstreamError) as caught:
        kie.read_envelope(resp, "kie")
    return caught.value


def test_market_record_states():
    assert kie.read_market({"state": "waiting"}).state == "running"
    assert kie.read_market({"state": "queuing"}).state == "running"
    assert kie.read_market({"state": "generating"}).state == "running"
    done = kie.read_market({"state": "success", "resultJson": json.dumps({"resultUrls": [IMG]})})
    assert done.state == "success" and done.result == {"resultUrls": [IMG]}
    failed = kie.read_market({"state": "fail", "failCode": "500", "failMsg": "Internal error"})
    assert (failed.state, failed.message, failed.code) == ("fail", "Internal error", "500")
    assert kie.read_market({"state": "success", "resultJson": "not json"}).result == {}
    assert kie.read_market({"state": "paused"}).state == "unknown"


def test_model_api_record_states():
    assert kie.read_runway({"state": "wait"}).state == "running"
    assert kie.read_runway({"state": "queueing"}).state == "running"
    done = kie.read_runway({"state": "success", "videoInfo": {"videoUrl": VID}})
    assert done.result == {"videoUrl": VID}
    assert kie.read_runway({"state": "fail", "failMsg": "NSFW"}).message == "NSFW"
    assert kie.read_flag({"successFlag": 0}).state == "running"
    assert kie.read_flag({"successFlag": 1, "response": {"resultUrls": [VID]}}).result == {"resultUrls": [VID]}
    assert kie.read_flag({"successFlag": 4, "response": {"resultUrls": [VID]}}).state == "success"
    assert kie.read_flag({"successFlag": 3, "errorMessage": "boom", "errorCode": 500}).code == "500"
    assert kie.read_flag({"successFlag": 2}).state == "fail"
    assert kie.read_aleph({"successFlag": 0, "errorMessage": ""}).state == "running"
    assert kie.read_aleph({"successFlag": 0, "errorMessage": "Failed to fetch the video"}).state == "fail"
    assert kie.read_aleph({"successFlag": 1, "response": {"resultVideoUrl": VID}}).result["resultVideoUrl"] == VID
    assert kie.read_1080p({"resultUrl": ""}).state == "running"
    assert kie.read_1080p({"resultUrl": VID}).result == {"resultUrl": VID}


def test_failures_policy_is_final_others_move_on():
    policy = kie.failure(kie.Reading("fail", {}, "Your prompt was caught by our AI moderator."), "kie")
    assert not policy.retryable and str(policy) == "Your prompt was caught by our AI moderator."
    invalid = kie.failure(kie.Reading("fail", {}, "Invalid image size", "422"), "kie")
    assert not invalid.retryable
    lost = kie.failure(kie.Reading("fail", {}, "Internal error, please try again later.", "500"), "kie")
    assert lost.retryable and lost.job_failed and "Internal error" in str(lost)
    assert kie.failure(kie.Reading("fail", {}), "kie").job_failed


def test_unknown_model_api_is_refused():
    with pytest.raises(UpstreamError):
        kie.api_for("/api/v1/nowhere")
    assert kie.api_for("grok-imagine/upscale") is kie.MARKET


def test_kling_3_bodies_always_carry_what_kie_requires():
    kling = get_catalog().action("kling", "text_to_video")
    shots = [{"prompt": "a fox runs", "duration_seconds": 3}, {"prompt": "it sleeps", "duration_seconds": 2}]
    _, (_, _, sent) = build(
        kling,
        "kling-3.0",
        {
            "multi_shots": True,
            "enable_sound": True,
            "aspect_ratio": "9:16",
            "output_resolution": "720p",
            "multi_prompt": shots,
        },
    )
    assert sent["input"] == {
        "prompt": "",
        "sound": True,
        "duration": "5",
        "mode": "std",
        "multi_shots": True,
        "aspect_ratio": "9:16",
        "multi_prompt": [{"prompt": "a fox runs", "duration": 3}, {"prompt": "it sleeps", "duration": 2}],
    }
    _, (_, _, sent) = build(kling, "kling-3.0", {"prompt": "x", "first_frame_image_url": IMG, "duration_seconds": 7})
    assert sent["input"] == {
        "prompt": "x",
        "sound": False,
        "duration": "7",
        "mode": "pro",
        "multi_shots": False,
        "multi_prompt": [],
        "image_urls": [IMG],
    }
    motion = get_catalog().action("kling", "motion_control")
    _, (_, _, sent) = build(
        motion,
        "kling-3.0",
        {
            "source_first_frame_image_url": IMG,
            "reference_video_url": VID,
            "output_resolution": "1080p",
            "background_source": "image",
        },
    )
    assert sent["model"] == "kling-3.0/motion-control"
    assert sent["input"] == {
        "input_urls": [IMG],
        "video_urls": [VID],
        "mode": "1080p",
        "background_source": "input_image",
    }


class _Http:
    """Answers every request with the next canned response (no socket)."""

    def __init__(self, *answers: httpx.Response):
        self.answers = list(answers)
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    async def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        self.sent.append((method, url, kw))
        return self.answers.pop(0)


def _adapter_with(*answers: httpx.Response) -> tuple[KieAI, _Http]:
    http = _Http(*answers)
    deployment = MediaDeployment(name="kie-a", kind="kie", base_url="https://api.kie.ai", api_key="k", poll_seconds=1)
    return KieAI(deployment, http), http  # type: ignore[arg-type]


def _task(action_key: str, model: str) -> Any:
    action = get_catalog().action(*action_key.split("/"))
    return SimpleNamespace(action=action, model=action.models[model], params={}, refs={}, id="t1")


def test_polls_read_each_api_and_keep_the_key_at_kies_origin():
    asyncio.run(_polls_read_each_api_and_keep_the_key_at_kies_origin())


async def _polls_read_each_api_and_keep_the_key_at_kies_origin() -> None:
    adapter, http = _adapter_with(
        answer({"code": 429, "msg": "slow down"}, 429, **{"Retry-After": "7"}),
        answer({"code": 200, "msg": "success", "data": {"state": "generating"}}),
        answer(
            {
                "code": 200,
                "msg": "success",
                "data": {"state": "success", "videoInfo": {"videoUrl": VID, "videoId": "v1"}},
            }
        ),
    )
    task, handle = _task("runway/text_to_video", "runway"), {"app": "/api/v1/runway/generate", "taskId": "k1"}
    assert (await adapter.check(task, handle)).poll_in == 7.0  # a rate-limited poll is not a failure
    assert (await adapter.check(task, handle)).poll_in == 1
    done = await adapter.check(task, handle)
    assert [(f.kind, f.url, f.meta) for f in done.files] == [("videos", VID, {"id": "v1"})]
    for method, url, kw in http.sent:
        assert (method, url) == ("GET", "https://api.kie.ai/api/v1/runway/record-detail")
        assert kw["params"] == {"taskId": "k1"} and kw["headers"] == {"Authorization": "Bearer k"}


def test_a_poll_kie_answers_404_or_a_lost_job_moves_on_and_a_policy_refusal_does_not():
    asyncio.run(_a_poll_kie_answers_404_or_a_lost_job_moves_on_and_a_policy_refusal_does_not())


async def _a_poll_kie_answers_404_or_a_lost_job_moves_on_and_a_policy_refusal_does_not() -> None:
    adapter, _ = _adapter_with(
        answer({"code": 404, "msg": "Task not found"}),
        answer({"code": 200, "data": {"state": "fail", "failCode": "500", "failMsg": "Internal error"}}),
        answer({"code": 200, "data": {"state": "fail", "failCode": "400", "failMsg": "NSFW content detected"}}),
        answer({"code": 200, "data": {"state": "success", "resultJson": "{}"}}),
    )
    task, handle = _task("grok_imagine/text_to_image", "grok-imagine-text-to-image"), {"app": "x/y", "taskId": "k"}
    for job_failed, retryable in ((True, True), (True, True), (False, False), (True, True)):
        with pytest.raises(UpstreamError) as caught:
            await adapter.check(task, handle)
        assert (caught.value.job_failed, caught.value.retryable) == (job_failed, retryable)


def test_the_1080p_version_is_asked_for_until_kie_has_it():
    asyncio.run(_the_1080p_version_is_asked_for_until_kie_has_it())


async def _the_1080p_version_is_asked_for_until_kie_has_it() -> None:
    adapter, http = _adapter_with(
        answer({"code": 400, "msg": "1080P is processing. It should be ready in 1-2 minutes."}),
        answer({"code": 200, "msg": "success", "data": {"resultUrl": VID}}),
    )
    action = get_catalog().action("veo_3_1", "upscale_video")
    source = SimpleNamespace(provider_job={"deployment": "kie-a", "handle": {"taskId": "v9"}})
    task = TaskInput(
        id="t1",
        action=action,
        model=action.models["veo-3.1"],
        params={"source_task_id": "t0", "output_resolution": "1080p", "index": 0},
        refs={"source_task_id": source},  # type: ignore[dict-item]
    )
    started = await adapter.start(task, Context(params=task.params, webhook_url=HOOK))
    assert started.handle["query"] == {"taskId": "v9", "index": 0} and not http.sent  # nothing to submit
    assert isinstance(await adapter.check(task, started.handle), kie.Running)
    done = await adapter.check(task, started.handle)
    assert [f.url for f in done.files] == [VID] and done.files[0].meta["resolution"] == "1080p"
    assert [kw["params"] for _, _, kw in http.sent] == [{"taskId": "v9", "index": 0}] * 2


def test_seedance_bodies_speak_kies_words():
    seedance = get_catalog().action("seedance", "text_to_video")
    _, (_, _, sent) = build(
        seedance,
        "seedance-2.5",
        {
            "prompt": "a bud opens",
            "aspect_ratio": "auto",
            "enable_safety_checker": True,
            "duration_seconds": 6,
            "reference_video_urls": [VID],
        },
    )
    assert sent["model"] == "bytedance/seedance-2-5"
    assert sent["input"] == {
        "prompt": "a bud opens",
        "reference_video_urls": [VID],
        "generate_audio": True,
        "resolution": "720p",
        "aspect_ratio": "adaptive",
        "duration": 6,
        "nsfw_checker": True,
        "return_last_frame": False,
    }
    _, (_, _, sent) = build(seedance, "seedance-2.0-fast", {"prompt": "clouds roll", "duration_seconds": 4})
    assert sent["input"]["web_search"] is False  # kie requires it
