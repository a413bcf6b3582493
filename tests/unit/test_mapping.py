"""The declarative request mapping (providers/upstream/mapping.py), without an upstream: our validated parameters
become an upstream body through the value specs, the first route whose condition holds is taken, a refusal
route names what cannot run, and a malformed table is refused when it loads."""

from __future__ import annotations

import copy

import pytest

from runapi.providers.upstream.fal import fal_table
from runapi.providers.upstream.mapping import Context, Table, build


def body(fields: dict, **params) -> dict:
    return build(fields, Context(params))


def test_a_parameter_is_sent_when_set_and_left_out_when_not():
    assert body({"prompt": "$prompt", "seed": "$seed"}, prompt="a fox") == {"prompt": "a fox"}
    assert body({"prompt": "$prompt"}, prompt="") == {}  # blank counts as absent, as in validation
    assert body({"prompt": "$prompt"}, prompt=None) == {}
    assert body({"sync": True, "n": 2}) == {"sync": True, "n": 2}  # literals always


def test_map_cast_and_format_apply_in_that_order():
    duration = {"param": "duration_seconds", "as": "int", "format": "{}s"}
    assert body({"duration": duration}, duration_seconds=8.0) == {"duration": "8s"}
    ratio = {"param": "aspect_ratio", "map": {"auto": "16:9"}}
    assert body({"ratio": ratio}, aspect_ratio="auto") == {"ratio": "16:9"}
    assert body({"ratio": ratio}, aspect_ratio="9:16") == {"ratio": "9:16"}  # unmapped values pass through
    assert body({"mode": {"param": "mode", "as": "upper"}}, mode="pro") == {"mode": "PRO"}
    weight = {"param": "strength", "as": "percent"}  # a fraction as a whole percentage, rounded
    assert [body({"w": weight}, strength=v)["w"] for v in (0.29, 0.8, 0.01, 1)] == [29, 80, 1, 100]


def test_first_at_and_default():
    urls = ["https://a", "https://b"]
    assert body({"image": {"param": "urls", "first": True}}, urls=urls) == {"image": "https://a"}
    assert body({"second": {"param": "urls", "at": 1}, "third": {"param": "urls", "at": 2}}, urls=urls) == {
        "second": "https://b"
    }  # past the end: left out
    assert body({"quality": {"param": "quality", "default": "high"}}) == {"quality": "high"}


def test_joined_parameters_are_looked_up_and_never_sent_joined():
    size = {"params": ["aspect_ratio", "resolution"], "map": {"16:9 1k": "1280x720"}, "default": "auto"}
    assert body({"size": size}, aspect_ratio="16:9", resolution="1k") == {"size": "1280x720"}
    assert body({"size": size}, aspect_ratio="1:1", resolution="1k") == {"size": "auto"}  # not "1:1 1k"
    assert body({"size": size}, aspect_ratio="16:9") == {"size": "auto"}  # one of them missing


def test_conditions_objects_lists_and_constants():
    fields = {
        "prompt": {"param": "prompt", "when": "multi_shots != true"},
        "image": {"object": {"url": "$image_url"}},
        "shots": {"each": "shots", "item": {"text": "$prompt", "seconds": {"param": "duration_seconds", "as": "str"}}},
        "options": {"const": {"safety": "strict"}},
    }
    single = body(fields, prompt="a fox", image_url="https://i")
    assert single == {"prompt": "a fox", "image": {"url": "https://i"}, "options": {"safety": "strict"}}
    multi = body(
        fields,
        prompt="a fox",
        multi_shots=True,
        shots=[{"prompt": "runs", "duration_seconds": 3}, {"prompt": "sleeps", "duration_seconds": 2}],
    )
    assert multi == {
        "shots": [{"text": "runs", "seconds": "3"}, {"text": "sleeps", "seconds": "2"}],
        "options": {"safety": "strict"},
    }  # no prompt beside the shots, no empty image object


def test_a_task_file_becomes_a_link_to_the_referenced_tasks_output():
    links = []

    def link(row, kind, index):
        links.append((row["id"], kind, index))
        return f"https://files/{row['id']}/{kind}/{index}"

    ctx = Context({"source_task_id": "t9", "index": 1}, refs={"source_task_id": {"id": "t9"}}, file_link=link)
    fields = {"video_url": {"task_file": "source_task_id", "kind": "videos", "index": "index"}}
    assert build(fields, ctx) == {"video_url": "https://files/t9/videos/1"}
    assert links == [("t9", "videos", 1)]
    assert build(fields, Context({"source_task_id": "t9"})) == {}  # nothing referenced: left out


TABLE = {
    "demo/draw": {
        "outputs": {"images": "images"},
        "input": {"prompt": "$prompt", "size": "$size"},
        "models": {
            "demo-1": [
                {"when": "size == huge", "refuse": "demo-1 cannot draw huge pictures"},
                {"when": "source_url is set", "app": "demo/edit", "input": {"image_url": "$source_url", "size": None}},
                "demo/draw",
            ]
        },
    }
}


def test_the_first_route_whose_condition_holds_is_taken():
    mapping = Table(TABLE).get("demo/draw", "demo-1")
    plain = mapping.route({"prompt": "p", "size": "small"}, "demo-1")
    assert plain.app == "demo/draw" and mapping.body(plain, Context({"prompt": "p", "size": "small"})) == {
        "prompt": "p",
        "size": "small",
    }
    params = {"prompt": "p", "size": "small", "source_url": "https://s"}
    edit = mapping.route(params, "demo-1")
    assert edit.app == "demo/edit"
    assert mapping.body(edit, Context(params)) == {"prompt": "p", "image_url": "https://s"}  # null drops size
    refused = mapping.route({"prompt": "p", "size": "huge"}, "demo-1")
    assert refused.refuse == "demo-1 cannot draw huge pictures"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t["demo/draw"].update(extra_key=1), "unknown keys"),
        (lambda t: t["demo/draw"]["input"].update(seed={"name": "seed"}), "needs one of param/params"),
        (lambda t: t["demo/draw"]["input"].update(seed={"param": "seed", "cast": "int"}), "unknown options"),
        (lambda t: t["demo/draw"]["input"].update(seed={"param": "seed", "as": "decimal"}), "unknown cast"),
        (lambda t: t["demo/draw"]["input"].update(seed={"param": "seed", "at": -1}), "at must be a list index"),
        (
            lambda t: t["demo/draw"]["models"].update({"demo-2": [{"when": "size == big", "app": "x"}]}),
            "the last route needs no `when`",
        ),
        (
            lambda t: t["demo/draw"]["models"].update(
                {"demo-2": [{"when": "size == big", "refuse": "no", "app": "x"}, "x"]}
            ),
            "a refusal is",
        ),
    ],
)
def test_a_malformed_table_is_refused_when_it_loads(change, message):
    raw = copy.deepcopy(TABLE)
    change(raw)
    with pytest.raises(ValueError, match=message):
        Table(raw)


def test_a_fal_route_and_body_from_the_shipped_table():
    """veo-3.1 text to video: a first frame picks fal's image-to-video app; the duration goes as "8s"."""
    mapping = fal_table().get("veo_3_1/text_to_video", "veo-3.1")
    params = {
        "prompt": "a fox",
        "first_frame_image_url": "https://i/f.png",
        "duration_seconds": 8,
        "aspect_ratio": "16:9",
    }
    route = mapping.route(params, "veo-3.1")
    assert route.app == "fal-ai/veo3.1/image-to-video"
    sent = mapping.body(route, Context(params))
    assert sent["image_url"] == "https://i/f.png" and sent["duration"] == "8s" and sent["prompt"] == "a fox"
    without = mapping.route({"prompt": "a fox", "aspect_ratio": "auto"}, "veo-3.1")
    assert without.app == "fal-ai/veo3.1"
    assert mapping.body(without, Context({"prompt": "a fox", "aspect_ratio": "auto"}))["aspect_ratio"] == "16:9"
