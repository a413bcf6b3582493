"""mapping.py's list specs for upstreams whose bodies are lists of parts (e.g. ModelArk's `content`): `each` over a
list of plain values (`$item`) and `concat`, which flattens several specs into one list."""

from __future__ import annotations

import pytest

from runapi.providers.upstream.mapping import Context, Table, build
from tests.support.param_effects import _spec_reads

IMAGE_PART = {"type": "image_url", "image_url": {"object": {"url": "$item"}}, "role": "reference_image"}
CONTENT = {
    "concat": [
        {"object": {"type": "text", "text": "$prompt"}},
        {
            "object": {"type": "image_url", "image_url": {"object": {"url": "$first"}}, "role": "first_frame"},
            "when": "first is set",
        },
        {"each": "refs", "item": IMAGE_PART},
    ]
}


def body(fields: dict, **params) -> dict:
    return build(fields, Context(params))


def test_each_over_plain_values_names_the_value_item():
    out = body({"parts": {"each": "refs", "item": IMAGE_PART}}, refs=["https://a/1.png", "https://a/2.png"])
    assert out == {
        "parts": [
            {"type": "image_url", "image_url": {"url": "https://a/1.png"}, "role": "reference_image"},
            {"type": "image_url", "image_url": {"url": "https://a/2.png"}, "role": "reference_image"},
        ]
    }


def test_each_over_objects_still_names_their_fields():
    out = body({"shots": {"each": "shots", "item": {"text": "$prompt"}}}, shots=[{"prompt": "a"}, {"prompt": "b"}])
    assert out == {"shots": [{"text": "a"}, {"text": "b"}]}


def test_concat_splices_lists_appends_single_values_and_skips_left_out_ones():
    out = body({"content": CONTENT}, prompt="a fox", refs=["https://a/1.png", "https://a/2.png"])
    assert out["content"] == [
        {"type": "text", "text": "a fox"},
        {"type": "image_url", "image_url": {"url": "https://a/1.png"}, "role": "reference_image"},
        {"type": "image_url", "image_url": {"url": "https://a/2.png"}, "role": "reference_image"},
    ]
    out = body({"content": CONTENT}, prompt="a fox", first="https://a/f.png")
    assert out["content"] == [
        {"type": "text", "text": "a fox"},
        {"type": "image_url", "image_url": {"url": "https://a/f.png"}, "role": "first_frame"},
    ]


def test_an_empty_concat_is_left_out():
    assert body({"tags": {"concat": ["$a", {"each": "b", "item": {"x": "$item"}}]}}) == {}
    assert body({"tags": {"concat": ["$a", "$b"]}}, a="x", b=["y", "z"]) == {"tags": ["x", "y", "z"]}


def test_a_malformed_concat_is_refused_when_the_table_loads():
    table = {"f/a": {"models": {"m": {"app": "x", "input": {"content": {"concat": {"param": "p"}}}}}}}
    with pytest.raises(ValueError, match="concat takes a list"):
        Table(table)
    table = {"f/a": {"models": {"m": {"app": "x", "input": {"content": {"concat": [{"param": "p", "bogus": 1}]}}}}}}
    with pytest.raises(ValueError, match="unknown options"):
        Table(table)


def test_the_parameter_effects_guard_sees_reads_inside_concat():
    assert {"prompt", "first", "refs"} <= _spec_reads(CONTENT)  # (conditions over-approximate: keywords too)
