"""The catalog's `sandbox:` block has a schema checked at load (catalog/sandbox_schema.py): a typo, a wrong type
or an unknown generator fails the load naming family/action/model and the key; `result_extra` is an action key
and a per-second price states its own `per_default`, so neither the upstream router nor pricing reads `sandbox:`.
No server: the catalog is built from dicts and the providers are called directly."""

from __future__ import annotations

import asyncio
import copy
from types import SimpleNamespace
from typing import Any

import pytest

from runapi.catalog import get_catalog
from runapi.catalog.model import build_family
from runapi.catalog.sandbox_schema import (
    GENERATOR_NAMES,
    IMAGE_FORMATS,
    VIDEO_RESOLUTIONS,
    SunoMusicSpec,
    VideoFromSourceSpec,
    VideoSpec,
    default_length,
    parse_sandbox,
)
from runapi.catalog.validation import validate
from runapi.providers.base import Done, TaskInput
from runapi.providers.sandbox import SandboxProvider, generators, images, media
from runapi.providers.sandbox.suno.common import MAX_UPLOAD_SECONDS
from runapi.providers.upstream.adapter import Finished
from runapi.providers.upstream.router import MediaRouter


def family(
    sandbox: dict[str, Any] | None = None,
    model: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    **action_keys: Any,
) -> dict[str, Any]:
    """A one-action, one-model family (demo/clip/demo-1) to break in one place."""
    action: dict[str, Any] = {
        "result": "videos",
        "params": {"model": {"type": "string"}, "prompt": {"type": "string"}, **(params or {})},
        "models": {"demo-1": {"price": {"cents": 3}, **(model or {})}},
        **action_keys,
    }
    if sandbox is not None:
        action["sandbox"] = sandbox
    return {"family": "demo", "actions": {"clip": action}}


def load_error(raw: dict[str, Any]) -> str:
    with pytest.raises(ValueError) as caught:
        build_family(copy.deepcopy(raw))
    return str(caught.value)


# ---------------------------------------------------------------------------------------- the real catalog


def test_the_real_catalog_loads_with_a_typed_sandbox_everywhere():
    actions = get_catalog().actions()
    assert len(actions) > 50
    for action in actions:
        assert action.sandbox is not None and action.sandbox.generator in GENERATOR_NAMES, action.key
        for model in action.models.values():
            assert model.sandbox is not None, (action.key, model.id)
            assert model.sandbox.generator == action.sandbox.generator, (action.key, model.id)


def test_every_declared_generator_has_an_implementation_and_back():
    assert set(generators()) == GENERATOR_NAMES


def test_model_keys_override_the_actions_and_defaults_are_declared_once():
    wan = get_catalog().action("wan", "text_to_video")
    assert wan.models["wan-2.7-text-to-video"].sandbox.aspect_param == "ratio"  # models.<id>.sandbox wins
    assert wan.models["wan-2.6-text-to-video"].sandbox.aspect_param == "aspect_ratio"
    assert wan.models["wan-2.6-text-to-video"].sandbox.enhance_param == "enable_prompt_expansion"  # the action's
    spec = parse_sandbox({"generator": "video"}, "x")
    assert isinstance(spec, VideoSpec)
    assert (spec.duration_param, spec.default_duration, spec.default_resolution) == ("duration_seconds", 5.0, "720p")
    assert parse_sandbox({"generator": "video", "images": "a"}, "x").images == ("a",)  # one name or a list
    assert parse_sandbox({"generator": "video", "images": ["a", "b"]}, "x").images == ("a", "b")
    assert parse_sandbox({}, "x") is None  # no sandbox block: no sandbox


def test_the_schemas_enums_match_what_the_sandbox_encodes():
    assert set(IMAGE_FORMATS) == set(images.FORMATS)
    assert set(VIDEO_RESOLUTIONS) == set(media.RESOLUTION_SHORT_SIDE)
    assert SunoMusicSpec(generator="suno_music").max_seconds == MAX_UPLOAD_SECONDS


# ---------------------------------------------------------------------------------- bad blocks fail at load


def test_a_typo_in_a_models_sandbox_fails_naming_the_model_and_the_key():
    message = load_error(family({"generator": "video"}, {"sandbox": {"count_parm": "n"}}))
    assert message.startswith("demo/clip/demo-1: sandbox:")
    assert "unknown key 'count_parm' for generator 'video'" in message and "did you mean 'count_param'" in message


def test_a_typo_in_an_actions_sandbox_fails_naming_the_action():
    message = load_error(family({"generator": "video", "default_duraton": 5}))
    assert message.startswith("demo/clip: sandbox: unknown key 'default_duraton'"), message


def test_a_key_of_another_generator_is_unknown_too():
    message = load_error(family({"generator": "image", "default_duration": 5}))
    assert "unknown key 'default_duration' for generator 'image'" in message


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("default_duration", "5", "default_duration: Input should be a valid number, got '5'"),  # no coercion
        ("count", True, "count: Input should be a valid integer, got True"),
        ("item_ids", "yes", "item_ids: Input should be a valid boolean, got 'yes'"),
        ("images", 3, "images: Value error, expected a param name or a list of param names, got 3"),
        ("images", ["a", 3], "images.1: Input should be a valid string, got 3"),
        ("motion", {"fast": "2"}, "motion.fast: Input should be a valid number, got '2'"),
    ],
)
def test_a_wrong_type_fails_naming_the_key(key, value, named):
    assert (
        load_error(family({"generator": "video"}, {"sandbox": {key: value}})) == f"demo/clip/demo-1: sandbox: {named}"
    )


def test_an_unknown_generator_fails_listing_the_known_ones():
    message = load_error(family({"generator": "vidoe"}))
    assert message.startswith("demo/clip: sandbox: unknown generator 'vidoe'") and "video_from_source" in message


@pytest.mark.parametrize(
    ("sandbox", "key"),
    [
        ({"generator": "video_from_source", "mode": "extnd"}, "mode"),
        ({"generator": "suno_music", "mode": "remix"}, "mode"),
        ({"generator": "video", "default_resolution": "720"}, "default_resolution"),
        ({"generator": "image", "default_format": "gif"}, "default_format"),
    ],
)
def test_a_value_outside_a_fixed_set_fails(sandbox, key):
    message = load_error(family(sandbox))
    assert f"{key}: Input should be" in message


def test_a_block_without_a_generator_fails():
    assert "no generator" in load_error(family({"max_side": 1024}))


def test_a_typo_in_a_model_key_fails():
    message = load_error(family({"generator": "video"}, {"sandbx": {"count": 2}}))
    assert message == "demo/clip/demo-1: unknown keys ['sandbx']"


def test_a_family_without_sandbox_still_loads():
    action = build_family(family()).actions["clip"]
    assert action.sandbox is None and action.models["demo-1"].sandbox is None


# ---------------------------------------------------------------------------------- result_extra


def test_result_extra_is_an_action_key_not_a_sandbox_key():
    action = get_catalog().action("gpt_4o_image", "text_to_image")
    assert action.result_extra == {"progress": "1.00"}
    assert build_family(family({"generator": "image"}, result_extra={"progress": "1.00"})).actions[
        "clip"
    ].result_extra == {"progress": "1.00"}
    message = load_error(family({"generator": "image", "result_extra": {"progress": "1.00"}}))
    assert "unknown key 'result_extra'" in message


def _task(action_key: str) -> TaskInput:
    family_name, action_name = action_key.split("/")
    action = get_catalog().action(family_name, action_name)
    return TaskInput(id="t", action=action, model=next(iter(action.models.values())), params={})


def test_the_sandbox_adds_the_actions_result_extra(monkeypatch):
    async def fake(inputs, task, spec):
        return Done(outputs=[], extra={"own": 1})

    monkeypatch.setitem(generators(), "image", fake)
    provider = SandboxProvider(http=None)  # type: ignore[arg-type]  (nothing is fetched)
    done = asyncio.run(provider.generate(_task("gpt_4o_image/text_to_image")))
    assert done.extra == {"progress": "1.00", "own": 1}


def test_the_upstream_router_adds_the_actions_result_extra():
    router = MediaRouter([], downloads=None)  # type: ignore[arg-type]  (no files to download)
    adapter = SimpleNamespace(deployment=SimpleNamespace(name="up", max_output_bytes=1 << 20))
    done = asyncio.run(
        router._finish(
            _task("gpt_4o_image/text_to_image"),
            adapter,  # type: ignore[arg-type]
            Finished(files=[], extra={"own": 1}),
        )
    )
    assert done.extra == {"progress": "1.00", "own": 1}


# ---------------------------------------------------------------------------------- per-second prices


def test_a_per_second_price_without_the_length_uses_its_per_default():
    action = get_catalog().action("grok_imagine", "text_to_video")
    model, params = validate(action, {"model": "grok-imagine-text-to-video", "prompt": "a boat"})
    assert "duration_seconds" not in params and model.price.per_default == 6
    assert model.quote(params) == 2 * 6  # 480p: 2 cents a second, for the 6 s the sandbox makes
    assert model.quote({**params, "duration_seconds": 10}) == 20
    wan = get_catalog().action("wan", "text_to_video")
    model, params = validate(wan, {"model": "wan-2.6-text-to-video", "prompt": "a boat"})
    assert "duration_seconds" not in params and model.quote(params) == 10 * 5


LENGTH = {"duration_seconds": {"type": "integer"}}
VIDEO = {"generator": "video", "default_duration": 6}


def test_a_per_second_price_must_state_the_sandboxs_default_length():
    missing = family(VIDEO, {"price": {"cents": 2, "per": "duration_seconds"}}, LENGTH)
    assert load_error(missing) == (
        "demo/clip/demo-1: price per duration_seconds needs per_default: 6 (the seconds "
        "the sandbox makes without duration_seconds), got None"
    )
    other = family(VIDEO, {"price": {"cents": 2, "per": "duration_seconds", "per_default": 5}}, LENGTH)
    assert "needs per_default: 6" in load_error(other)
    stated = family(VIDEO, {"price": {"cents": 2, "per": "duration_seconds", "per_default": 6}}, LENGTH)
    assert build_family(stated).actions["clip"].models["demo-1"].quote({}) == 12


@pytest.mark.parametrize(
    "length",
    [
        {"duration_seconds": {"type": "integer", "default": 8}},  # the request always has a length
        {"duration_seconds": {"type": "integer", "required": True}},
    ],
)
def test_a_length_the_request_always_has_needs_no_per_default(length):
    raw = family(VIDEO, {"price": {"cents": 2, "per": "duration_seconds"}}, length)
    assert build_family(raw).actions["clip"].models["demo-1"].price.per_default is None


def test_default_length_follows_the_generators_reader():
    assert default_length(parse_sandbox(VIDEO, "x")) == ("duration_seconds", 6.0)
    assert default_length(parse_sandbox({"generator": "sound", "default_duration": 3}, "x")) == ("duration_seconds", 3)
    extend = parse_sandbox({"generator": "video_from_source", "mode": "extend"}, "x")
    assert isinstance(extend, VideoFromSourceSpec) and default_length(extend) == ("duration_seconds", 5.0)
    assert default_length(parse_sandbox({"generator": "video_from_source", "mode": "edit"}, "x")) is None
    assert default_length(parse_sandbox({"generator": "image"}, "x")) is None
