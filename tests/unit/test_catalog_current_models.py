"""The platform's current model ids on the actions we have (issue 15, item 5): the SDKs send them (runapi-nano-banana
0.3 defaults to nano-banana-2-lite), so every (action, model) the platform's contract lists for an action of ours is
in the catalog, or excluded below with its reason. The models taken from the contract (not in the seed) declare its
fields as it states them, but for the parameters left out below (the sandbox cannot honour them), and refuse the
fields it forbids them.

The contract: tests/support/contracts/platform_models.yaml (trimmed from runapi-ai/mcp v0.12.0 data/contract.json).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runapi.catalog import Action, Param, get_catalog
from runapi.catalog.conditions import evaluate
from runapi.yamlload import load_yaml

CATALOG = get_catalog()
CONTRACT: dict[str, Any] = load_yaml(Path(__file__).parents[1] / "support" / "contracts" / "platform_models.yaml")

# (action key, model) the contract lists that the catalog leaves out, and why.
EXCLUDED: dict[tuple[str, str], str] = {
    # Image 2.0 edits the segments of a completed grok-imagine/segment-map task (source_task_id, mask_indices): we
    # have no segment_map action, so no task could name one.
    ("grok_imagine/edit_image", "grok-imagine-image-2-0"): "needs a segment-map task, an action we lack",
}

# (action key, model, contract field) the catalog does not declare for a model it took from the contract: the
# sandbox cannot honour it and no upstream maps it (sent anyway, it is ignored, as any undeclared parameter).
LEFT_OUT: dict[tuple[str, str, str], str] = {
    # the sandbox's image-to-video opens on the source image; reference images only steer a video without one
    **{
        ("grok_imagine/image_to_video", m, "reference_image_urls"): "references change nothing after an opening frame"
        for m in ("grok-imagine-video-1.5-fast", "grok-imagine-video-1.5-preview")
    },
    ("kling/image_to_video", "kling-o1", "reference_image_urls"): "references change nothing after an opening frame",
    # a base edit of a reference video (or its feature reference) and keeping its audio: the `video` generator
    # makes a new clip; editing a video is another generator (video_from_source), not chosen per request
    **{
        (key, "kling-o1", name): "the sandbox makes a new clip, it cannot edit or keep a reference video"
        for key in ("kling/text_to_video", "kling/image_to_video")
        for name in ("reference_video_url", "reference_video_type", "preserve_reference_video_audio")
    },
    # mov: the sandbox writes MP4 only
    ("seedance/text_to_video", "seedance-2.5", "output_format"): "the sandbox writes MP4 only",
    # "preferred duration": the sandbox's song length does not follow a requested one
    ("suno/text_to_music", "suno-v5.5", "duration_seconds"): "the sandbox's song length is its own",
    # suno-v5.5 takes suno-v5's parameters, the seed's: the contract lists these for every model of the action
    ("suno/text_to_music", "suno-v5.5", "continue_at"): "not a text_to_music parameter in the seed (as suno-v5)",
    ("suno/extend_music", "suno-v5.5", "audio_url"): "not an extend_music parameter in the seed (as suno-v5)",
    ("suno/extend_music", "suno-v5.5", "lyrics"): "not an extend_music parameter in the seed (as suno-v5)",
    # the seed names this action's subject image source_first_frame_image_url (kling-3.0's too)
    ("kling/motion_control", "kling-v2.6", "source_image_url"): "the seed's name is source_first_frame_image_url",
}

# (action key, model, field, what) where the catalog's value differs from the contract's, and why.
DIFFERENT: dict[tuple[str, str, str, str], str] = {
    # -1 asks the model to choose the length: the sandbox chooses none, and a price per second needs one
    ("seedance/text_to_video", "seedance-2.5", "duration_seconds", "enum"): "no -1 (4 to 30 as min/max)",
    # as suno-v5: the seed gives text_to_music's prompt no limit (the contract's 3000 is every model's)
    ("suno/text_to_music", "suno-v5.5", "prompt", "max"): "no limit in the seed (as suno-v5)",
}


def _key(contract_key: str, entry: dict[str, Any]) -> str:
    return f"{contract_key.split('/')[0].replace('-', '_')}/{entry['endpoint']}"


def _ours() -> list[tuple[str, dict[str, Any]]]:
    return [(_key(k, e), e) for k, e in CONTRACT.items()]


def _action(key: str) -> Action:
    action = CATALOG.action(*key.split("/"))
    assert action is not None, key
    return action


def test_every_current_model_of_our_actions_is_in_the_catalog_or_excluded():
    missing = sorted(
        (key, model)
        for key, entry in _ours()
        for model in entry["models"]
        if model not in _action(key).models and (key, model) not in EXCLUDED
    )
    assert not missing, (
        f"the platform's models missing from the catalog (add them, or exclude with a reason): {missing}"
    )


def test_exclusions_are_still_needed():
    listed = {(key, model) for key, entry in _ours() for model in entry["models"]}
    stale = sorted(pair for pair in EXCLUDED if pair not in listed or pair[1] in _action(pair[0]).models)
    assert not stale, f"remove from EXCLUDED (in the catalog now, or no longer in the contract): {stale}"


def _applies(p: Param | None, model: str) -> bool:
    return p is not None and (p.only_models is None or model in p.only_models)


ADDED = [
    (key, model, spec)
    for key, entry in _ours()
    for model, spec in (entry.get("added") or {}).items()
    if (key, model) not in EXCLUDED
]


@pytest.mark.parametrize(("key", "model", "spec"), ADDED, ids=[f"{k}:{m}" for k, m, _ in ADDED])
def test_an_added_model_declares_the_contracts_fields(key, model, spec):
    action = _action(key)
    assert model in action.models, f"{key}: {model} is not in the catalog"
    params = action.models[model].params
    problems = []
    for name, field in spec["fields"].items():
        if name in spec["forbidden"] or (key, model, name) in LEFT_OUT:
            continue
        p = params.get(name)
        if not _applies(p, model):
            problems.append(f"{name}: not declared for {model}")
            continue
        assert p is not None
        required = p.required or bool(p.required_when and evaluate(p.required_when, {"model": model}))
        if field.get("required") and field.get("default") is None and not required:
            problems.append(f"{name}: required by the contract")
        checks = {"default": p.default, "max_items": p.max_items, "min_items": p.min_items}
        checks["enum"] = set(p.enum) if p.enum is not None else None
        if field.get("length"):
            checks["max"], checks["min"] = p.max_length, p.min_length
        elif "enum" not in field:
            checks["max"], checks["min"] = p.max, p.min
        for what, ours in checks.items():
            theirs = field.get(what)
            if what == "enum" and theirs is not None:
                theirs = set(theirs)
            if what == "min" and field.get("length") and theirs == 1 and ours is None:
                continue  # a blank string counts as absent: at least one character anyway
            if theirs is not None and ours != theirs and (key, model, name, what) not in DIFFERENT:
                problems.append(f"{name}.{what}: contract {theirs!r}, catalog {ours!r}")
    for name in spec["forbidden"]:
        if _applies(params.get(name), model):
            problems.append(f"{name}: the contract forbids it for {model}")
    assert not problems, f"{key} {model}: {problems}"


def test_left_out_fields_are_really_left_out():
    """A field listed as left out that the catalog now declares for the model: remove it from LEFT_OUT."""
    declared = sorted(
        (key, model, name)
        for key, model, name in LEFT_OUT
        if _applies(_action(key).models[model].params.get(name), model)
    )
    assert not declared, declared
