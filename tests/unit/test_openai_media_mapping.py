"""OpenAI media requests → catalog requests (runapi/openai_media/mapping.py) by the catalog's `openai:` blocks
(catalog/openai_schema.py): every served model is reachable, sizes become ratios and resolution tiers, counts,
qualities and formats map or are refused naming the OpenAI field, and a bad block fails the catalog's load.
No server: the real catalog and small families built from dicts."""

from __future__ import annotations

import copy
from types import SimpleNamespace
from typing import Any

import pytest

from runapi.catalog import Catalog, get_catalog
from runapi.catalog.model import build_family
from runapi.catalog.validation import validate
from runapi.domain.task import Task, TaskState
from runapi.errors import BadRequest, InvalidInput, NotFound, RunapiError
from runapi.openai_media import answers, videos
from runapi.openai_media.fields import parse_fields
from runapi.openai_media.mapping import OpenAiRequest, catalog_body, explained, parse_size, route_for

URL = "https://example.com/in.png"
INPUT_FIELD = {"images.edits": "image", "audio.transcriptions": "file", "videos": "input_reference"}


def mapped(endpoint: str, inputs: dict[str, tuple[str, ...]] | None = None, **fields: Any) -> dict[str, Any]:
    route = route_for(get_catalog(), endpoint, fields.get("model"), None)
    return catalog_body(route, OpenAiRequest(endpoint, parse_fields(endpoint, fields), inputs or {}))


def refusal(endpoint: str, **fields: Any) -> str:
    with pytest.raises(RunapiError) as caught:
        mapped(endpoint, **fields)
    assert isinstance(caught.value, BadRequest), caught.value
    return caught.value.message


def checked(endpoint: str, fields: dict[str, Any], inputs: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    """The mapped request through the catalog's validation, refusals worded as the endpoint words them."""
    route = route_for(get_catalog(), endpoint, fields["model"], None)
    body = catalog_body(route, OpenAiRequest(endpoint, parse_fields(endpoint, fields), inputs))
    try:
        return validate(route.action, body)[1]
    except (BadRequest, InvalidInput) as exc:
        raise explained(exc, route) from None


def minimal(endpoint: str, model: str) -> tuple[dict[str, Any], dict[str, tuple[str, ...]]]:
    fields: dict[str, Any] = {"model": model}
    if endpoint in ("images.generations", "images.edits", "videos"):
        fields["prompt"] = "a red fox in the snow"
    if endpoint == "audio.speech":
        fields.update(input="Hello there", voice="alloy")
    inputs = {INPUT_FIELD[endpoint]: (URL,)} if endpoint in ("images.edits", "audio.transcriptions") else {}
    return fields, inputs


def completing(route: Any, field: str) -> Any:
    """A value the model takes for an OpenAI field its catalog params require."""
    model, block = route.model, route.block
    if field == "size":
        ratio = next(str(v) for v in model.params[block.size.aspect_ratio].enum if ":" in str(v))
        w, h = (int(p) for p in ratio.split(":"))
        return f"{w * 128}x{h * 128}"
    if field == "seconds":
        p = model.params[block.seconds]
        return str(p.enum[0] if p.enum else int(p.min or 5))
    raise AssertionError(f"{route.model.id}: nothing fills {field}")


# ------------------------------------------------------------------------------------- the real catalog


def test_every_endpoint_serves_models_and_every_served_model_maps_to_a_valid_request():
    routes = get_catalog().openai_routes
    assert set(routes) == {"images.generations", "images.edits", "audio.speech", "audio.transcriptions", "videos"}
    assert {"gpt-image-1.5", "gpt-image-2", "nano-banana", "seedream-4.5-text-to-image"} <= set(
        routes["images.generations"]
    )
    assert {"veo-3.1", "kling-3.0", "seedance-2.0"} <= set(routes["videos"])
    for endpoint, served in routes.items():
        for model_id, route in served.items():
            fields, inputs = minimal(endpoint, model_id)
            for _ in range(3):  # a model may require a few fields the minimal request leaves out
                try:
                    params = checked(endpoint, fields, inputs)
                    break
                except BadRequest as exc:
                    missing = exc.message.removeprefix("Missing required parameter: ").split(" ")[0]
                    assert exc.message.startswith("Missing required parameter: ") and missing in (
                        "size",
                        "seconds",
                        "input_reference",
                    ), (model_id, exc.message)
                    if missing == "input_reference":
                        inputs = {**inputs, "input_reference": (URL,)}
                    else:
                        fields = {**fields, missing: completing(route, missing)}
            else:
                raise AssertionError(f"{endpoint} {model_id}: still refused")
            assert params.get("model", model_id) == model_id


def test_a_model_id_is_served_once_per_endpoint_by_the_action_that_makes_it():
    routes = get_catalog().openai_routes
    assert routes["images.generations"]["nano-banana"].action.key == "nano_banana/text_to_image"
    assert routes["images.edits"]["nano-banana"].action.key == "nano_banana/text_to_image"  # reference images
    assert routes["images.edits"]["nano-banana-edit"].action.key == "nano_banana/edit_image"
    assert routes["videos"]["kling-3.0"].action.key == "kling/text_to_video"  # not its motion control
    assert "ideogram-v3-character" not in routes["images.generations"]  # `models:` leaves it out


# ------------------------------------------------------------------------------------------------- size


def test_a_size_becomes_the_models_ratio_and_nearest_resolution_tier():
    body = mapped("images.generations", model="gpt-image-2", prompt="p", size="1024x1024")
    assert (body["aspect_ratio"], body["output_resolution"]) == ("1:1", "1k")
    body = mapped("images.generations", model="gpt-image-2", prompt="p", size="3840x2160")
    assert (body["aspect_ratio"], body["output_resolution"]) == ("16:9", "2k")  # short side 2160: nearest 2k
    body = mapped("images.generations", model="nano-banana-pro", prompt="p", size="4096x4096")
    assert body["output_resolution"] == "4k"
    assert mapped("images.generations", model="gpt-image-1.5", prompt="p", size="1024x1536")["aspect_ratio"] == "2:3"
    assert mapped("videos", model="veo-3.1", prompt="p", size="720x1280")["aspect_ratio"] == "9:16"
    assert mapped("videos", model="kling-3.0", prompt="p", size="1280x720")["output_resolution"] == "720p"
    assert mapped("videos", model="kling-3.0", prompt="p", size="1920x1080")["output_resolution"] == "1080p"


def test_a_size_close_to_an_allowed_ratio_takes_it():
    assert mapped("videos", model="veo-3.1", prompt="p", size="1792x1024")["aspect_ratio"] == "16:9"  # 1.6 % off


def test_a_resolution_the_model_does_not_make_is_replaced_by_the_nearest_it_makes():
    # flux-2 makes 1k and 2k: a 4k size gets 2k
    assert mapped("images.generations", model="flux-2-pro-text-to-image", prompt="p", size="4096x4096")[
        "output_resolution"
    ] == ("2k")
    # nano-banana takes no resolution at all (only its pro and 2 models do): the ratio alone
    assert "output_resolution" not in mapped("images.generations", model="nano-banana", prompt="p", size="2048x2048")


def test_an_unsupported_ratio_is_refused_listing_the_models_ratios():
    message = refusal("images.generations", model="gpt-image-2", prompt="p", size="1536x1024")
    assert "'1536x1024' (aspect ratio 3:2) is not supported by model gpt-image-2" in message
    assert "Supported aspect ratios: 1:1, 9:16, 16:9, 4:3, 3:4" in message and "1024x1024" in message


def test_size_auto_or_absent_asks_for_nothing():
    assert "aspect_ratio" not in mapped("images.generations", model="gpt-image-2", prompt="p", size="auto")
    assert mapped("images.generations", model="gpt-image-1.5", prompt="p")["aspect_ratio"] == "1:1"  # defaults


def test_a_malformed_size_and_a_size_for_a_model_without_one_are_refused():
    assert "Expected WIDTHxHEIGHT" in refusal("images.generations", model="gpt-image-2", prompt="p", size="big")
    with pytest.raises(BadRequest):
        parse_size("0x10")
    message = refusal("images.edits", model="grok-imagine-edit-image", prompt="p", size="1024x1024")
    assert message == "Model grok-imagine-edit-image does not support size='1024x1024' (accepted: 'auto')"


# ------------------------------------------------------------------------------- n, quality, format, ...


def test_n_maps_to_the_count_param_and_is_held_to_the_models_values():
    assert mapped("images.generations", model="gpt-4o-image", prompt="p", n=2)["output_count"] == 2
    assert "output_count" not in mapped("images.generations", model="gpt-4o-image", prompt="p", n=1)
    message = refusal("images.generations", model="gpt-4o-image", prompt="p", n=3)
    assert message == "Invalid value for n: 3. Model gpt-4o-image supports: 1, 2, 4"
    assert refusal("images.generations", model="seedream-v4-text-to-image", prompt="p", n=9) == (
        "n must be between 1 and 6 for model seedream-v4-text-to-image (got 9)"
    )


def test_n_for_a_model_that_makes_one_image_is_refused_unless_1():
    assert refusal("images.generations", model="gpt-image-1.5", prompt="p", n=2) == (
        "Model gpt-image-1.5 makes one image per request: n must be 1 (got 2)"
    )
    # imagen-4's count param is only its fast model's
    assert "makes one image" in refusal("images.generations", model="imagen-4", prompt="p", n=2)
    assert mapped("images.generations", model="imagen-4-fast", prompt="p", n=4)["output_count"] == 4


def test_quality_and_output_format_translate_through_the_blocks_values():
    assert mapped("images.generations", model="gpt-image-1.5", prompt="p", quality="high")["quality"] == "high"
    assert mapped("images.generations", model="gpt-image-1.5", prompt="p", quality="auto")["quality"] == "medium"
    assert refusal("images.generations", model="gpt-image-1.5", prompt="p", quality="low") == (
        "Invalid value for quality: 'low'. Model gpt-image-1.5 supports: 'medium', 'high', 'auto'"
    )
    body = mapped("images.generations", model="nano-banana", prompt="p", output_format="jpeg")
    assert body["output_format"] == "jpg"  # the catalog's name for it
    assert "Model nano-banana supports: 'png', 'jpeg'" in refusal(
        "images.generations", model="nano-banana", prompt="p", output_format="webp"
    )
    body = mapped("images.generations", model="seedream-4.5-text-to-image", prompt="p", quality="high")
    assert body["output_quality"] == "high"


def test_fields_that_ask_for_nothing_are_accepted_and_others_refused():
    body = mapped(
        "images.generations",
        model="gpt-image-2",
        prompt="p",
        n=1,
        background="auto",
        stream=False,
        partial_images=0,
        user="u-1",
        moderation="low",
    )
    assert body == {"model": "gpt-image-2", "prompt": "p"}
    assert refusal("images.generations", model="gpt-image-2", prompt="p", background="transparent") == (
        "Model gpt-image-2 does not support background='transparent' (accepted: 'auto')"
    )
    assert "does not support stream=True" in refusal("images.generations", model="gpt-image-2", prompt="p", stream=True)
    assert refusal("images.generations", model="gpt-image-2", prompt="p", svg={"model": "x"}) == (
        "Unrecognized request argument supplied: svg"
    )


def test_multipart_text_values_are_typed():
    fields = parse_fields("images.edits", {"model": "gpt-4o-image", "prompt": "p", "n": "2", "stream": "false"})
    assert fields["n"] == 2 and fields["stream"] is False
    assert parse_fields("videos", {"seconds": "8"})["seconds"] == 8
    with pytest.raises(BadRequest, match="Invalid type for n: expected an integer"):
        parse_fields("images.generations", {"n": "two"})


def test_edit_inputs_go_to_the_models_source_param():
    urls = (URL, "https://example.com/b.png")
    body = mapped("images.edits", {"image": urls}, model="gpt-image-1.5", prompt="p")
    assert body["source_image_urls"] == list(urls)
    assert mapped("images.edits", {"image": (URL,)}, model="qwen-2-edit-image", prompt="p")["source_image_url"] == URL
    assert refusal_inputs("images.edits", {"image": urls}, model="qwen-2-edit-image", prompt="p") == (
        "Model qwen-2-edit-image takes one image, got 2"
    )
    body = mapped("images.edits", {"image": (URL,), "mask": (URL,)}, model="gpt-4o-image", prompt="p")
    assert body["mask_url"] == URL
    assert refusal_inputs("images.edits", {"image": (URL,), "mask": (URL,)}, model="gpt-image-1.5", prompt="p") == (
        "Model gpt-image-1.5 does not take mask"
    )


def refusal_inputs(endpoint: str, inputs: dict[str, tuple[str, ...]], **fields: Any) -> str:
    with pytest.raises(BadRequest) as caught:
        mapped(endpoint, inputs, **fields)
    return caught.value.message


def test_an_input_reference_also_sets_the_mode_that_reads_it():
    body = mapped("videos", {"input_reference": (URL,)}, model="veo-3.1", prompt="p", seconds="4")
    assert body["first_frame_image_url"] == URL and body["input_mode"] == "first_and_last_frames"
    assert body["duration_seconds"] == 4


def test_speech_maps_input_voice_and_speed_and_refuses_what_the_model_cannot_do():
    body = mapped("audio.speech", model="text-to-speech-multilingual-v2", input="Hi", voice="Rachel", speed=0.9)
    assert body == {"model": "text-to-speech-multilingual-v2", "text": "Hi", "voice": "Rachel", "speed": 0.9}
    body = mapped("audio.speech", model="text-to-speech-turbo-v2.5", input="Hi", voice={"id": "v1"}, speed=1.0)
    assert body["voice"] == "v1" and "speed" not in body  # 1.0 asks for nothing
    assert refusal("audio.speech", model="text-to-speech-turbo-v2.5", input="Hi", voice="a", speed=2.0) == (
        "speed must be between 0.7 and 1.2 for model text-to-speech-turbo-v2.5 (got 2)"
    )
    assert mapped("audio.speech", model="text-to-speech-turbo-v2.5", input="Hi", voice="a", response_format="mp3")
    assert refusal("audio.speech", model="text-to-speech-turbo-v2.5", input="Hi", voice="a", response_format="wav") == (
        "Model text-to-speech-turbo-v2.5 does not support response_format='wav' (accepted: 'mp3')"
    )
    assert "does not support instructions" in refusal(
        "audio.speech", model="text-to-speech-turbo-v2.5", input="Hi", voice="a", instructions="whisper"
    )


def test_transcription_maps_the_file_and_language_and_ignores_temperature():
    body = mapped("audio.transcriptions", {"file": (URL,)}, model="speech-to-text", language="en", temperature=0.3)
    assert body == {"source_audio_url": URL, "language_code": "en"}  # (the action takes no model param)
    assert "does not support prompt" in refusal("audio.transcriptions", model="speech-to-text", prompt="Names: Ann")


def test_seconds_are_held_to_the_models_durations():
    assert mapped("videos", model="veo-3.1", prompt="p", seconds="8")["duration_seconds"] == 8
    assert refusal("videos", model="veo-3.1", prompt="p", seconds="12") == (
        "Invalid value for seconds: 12. Model veo-3.1 supports: 4, 6, 8"
    )
    assert refusal("videos", model="kling-3.0", prompt="p", seconds="20") == (
        "seconds must be between 3 and 15 for model kling-3.0 (got 20)"
    )
    assert "does not support seconds" in refusal("videos", model="hailuo-02-text-to-video-pro", prompt="p", seconds="6")


# ----------------------------------------------------------------------------------- models and refusals


def test_an_unknown_or_missing_model_is_refused_listing_the_endpoints_models():
    with pytest.raises(NotFound) as caught:
        route_for(get_catalog(), "audio.speech", "tts-1", None)
    assert caught.value.code == "model_not_found"
    assert caught.value.message == (
        "The model `tts-1` does not exist or you do not have access to it. Models available at /v1/audio/speech: "
        "text-to-speech-turbo-v2.5, text-to-speech-multilingual-v2"
    )
    with pytest.raises(BadRequest, match="Missing required parameter: model. Models available at /v1/videos: "):
        route_for(get_catalog(), "videos", None, None)


def test_a_keys_allowed_models_narrow_the_listing_and_refuse_the_others():
    allowed = ("gpt-image-1.5",)
    with pytest.raises(NotFound, match="Models available at /v1/images/generations: gpt-image-1.5$"):
        route_for(get_catalog(), "images.generations", "dall-e-3", allowed)
    with pytest.raises(InvalidInput, match="Model gpt-image-2 is not allowed for this API key"):
        route_for(get_catalog(), "images.generations", "gpt-image-2", allowed)


def test_the_catalogs_refusals_are_worded_with_the_openai_fields():
    with pytest.raises(BadRequest) as caught:
        checked("videos", {"model": "kling-v2.1-pro", "prompt": "p"}, {})
    assert caught.value.message == "Missing required parameter: input_reference (model kling-v2.1-pro requires it)"
    with pytest.raises(BadRequest) as caught:  # a rule of the catalog's (1:1 cannot be 4k)
        checked("images.generations", {"model": "gpt-image-2", "prompt": "p", "size": "4096x4096"}, {})
    assert caught.value.message.startswith("output_resolution 4k is not supported with aspect_ratio 1:1")
    assert "size sets aspect_ratio" in caught.value.message and "size sets output_resolution" in caught.value.message


# ------------------------------------------------------------------------------------ the block at load


def family(openai: Any, params: dict[str, Any] | None = None, models: dict[str, Any] | None = None) -> dict:
    return {
        "family": "demo",
        "actions": {
            "draw": {
                "result": "images",
                "params": {
                    "model": {"type": "string"},
                    "prompt": {"type": "string"},
                    "aspect_ratio": {"type": "string", "enum": ["1:1", "16:9"]},
                    "count": {"type": "integer"},
                    "source_image_urls": {"type": "array", "items": "string"},
                    **(params or {}),
                },
                "models": models or {"demo-1": {"price": {"cents": 3}}},
                "openai": openai,
            }
        },
    }


def load_error(raw: dict[str, Any]) -> str:
    with pytest.raises(ValueError) as caught:
        build_family(copy.deepcopy(raw))
    return str(caught.value)


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"endpoint": "images.generate"}, "demo/draw: openai: endpoint must be one of images.generations, "),
        ({"endpoint": "images.generations", "count": "count"}, "demo/draw: openai: unknown key 'count'"),
        ({"endpoint": "images.generations", "n": 3}, "demo/draw: openai: n: Input should be a valid string, got 3"),
        ({"endpoint": "images.generations", "n": "number"}, "n names unknown param 'number'"),
        ({"endpoint": "images.generations", "n": "prompt"}, "n must name a number param, not 'prompt'"),
        (
            {"endpoint": "images.generations", "defaults": {"aspect_ratio": "4:3"}},
            "defaults sets aspect_ratio to '4:3'",
        ),
        (
            {"endpoint": "images.generations", "quality": {"param": "aspect_ratio", "values": {"high": "2:1"}}},
            "quality sets aspect_ratio to '2:1', which its enum refuses",
        ),
        (
            {"endpoint": "images.generations", "size": {"aspect_ratio": "aspect_ratio", "resolution": "prompt"}},
            "size.resolution needs tiers",
        ),
        ({"endpoint": "images.edits"}, "demo/draw: openai: image: Field required"),
        ({"endpoint": "images.edits", "image": "prompt", "models": ["demo-9"]}, "models names unknown models"),
        ([{"endpoint": "videos"}, {"endpoint": "videos"}], "one block per endpoint"),
    ],
)
def test_a_bad_block_fails_the_load_naming_the_action_and_the_problem(block, message):
    assert message in load_error(family(block))


def test_a_default_a_model_narrows_away_fails_naming_the_model():
    raw = family(
        {"endpoint": "images.generations", "defaults": {"aspect_ratio": "16:9"}},
        models={"demo-1": {"price": {"cents": 3}, "params": {"aspect_ratio": {"enum": ["1:1"]}}}},
    )
    assert load_error(raw).startswith("demo/draw/demo-1: openai (images.generations): defaults sets aspect_ratio")


def test_two_actions_serving_one_model_at_one_endpoint_fail_the_catalog():
    one = build_family(family({"endpoint": "images.generations"}))
    other = copy.deepcopy(family({"endpoint": "images.generations"}))
    other["family"] = "demo2"
    with pytest.raises(ValueError, match="demo2/draw: openai \\(images.generations\\): model demo-1 is already served"):
        Catalog({"demo": one, "demo2": build_family(other)})


def test_a_model_served_from_text_and_from_an_image_routes_by_the_input():
    """kling-v2.6 is both text_to_video and image_to_video: /v1/videos sends a request with an input_reference to
    the image action, one without to the text action; a video made by either is found again."""
    catalog = get_catalog()
    plain = route_for(catalog, "videos", "kling-v2.6", None)
    framed = route_for(catalog, "videos", "kling-v2.6", None, with_inputs=True)
    assert (plain.action.name, framed.action.name) == ("text_to_video", "image_to_video")
    only_text = route_for(catalog, "videos", "veo-3.1-fast", None, with_inputs=True)
    assert only_text.action.family == "veo_3_1"  # one route: the input is that action's to take or refuse
    kinds = {r.action.key for r in catalog.openai_routes_of("videos")}
    assert {"kling/text_to_video", "kling/image_to_video"} <= kinds


# ------------------------------------------------------------------------------------------- the answers


def task(state: TaskState = TaskState.COMPLETED, **fields: Any) -> Task:
    base: dict[str, Any] = dict(
        id="t-1",
        account_id=1,
        family="veo_3_1",
        action="text_to_video",
        model="veo-3.1",
        params={"prompt": "a fox", "duration_seconds": 8, "aspect_ratio": "16:9"},
        state=state,
        price_cents=320,
        provider="sandbox",
        next_run_at=100.0,
        created_at=90.5,
        updated_at=95.0,
    )
    return Task(**{**base, **fields})


def test_a_video_object_follows_its_task():
    route = get_catalog().openai_routes["videos"]["veo-3.1"]
    queued = videos.video_object(task(TaskState.QUEUED), route)
    assert (queued["status"], queued["progress"], queued["seconds"], queued["completed_at"]) == ("queued", 0, "8", None)
    assert videos.video_object(task(TaskState.RUNNING), route)["status"] == "in_progress"
    video = {"key": "k", "content_type": "video/mp4", "duration": 8.0, "width": 1280, "height": 720}
    done = videos.video_object(task(result={"files": {"videos": [video]}}, completed_at=99.9), route)
    assert (done["status"], done["progress"], done["size"], done["completed_at"]) == ("completed", 100, "1280x720", 99)
    failed = videos.video_object(task(TaskState.FAILED, error="Upstream refused"), route)
    assert failed["error"] == {"code": "generation_failed", "message": "Upstream refused"}
    kling = get_catalog().openai_routes["videos"]["kling-3.0"]
    pending = task(TaskState.QUEUED, params={"aspect_ratio": "9:16", "output_resolution": "1080p"}, model="kling-3.0")
    assert videos.video_object(pending, kling)["size"] == "1080x1920"  # asked for, before the file exists


def test_the_poll_hint_stays_within_bounds():
    assert videos.poll_after_ms(task(next_run_at=100.0), now=99.0) == 1000
    assert videos.poll_after_ms(task(next_run_at=100.0), now=200.0) == videos.MIN_POLL_MS
    assert videos.poll_after_ms(task(next_run_at=1000.0), now=0.0) == videos.MAX_POLL_MS


def test_a_transcript_in_each_format():
    words = [
        {"text": "Hello", "start": 0.1, "end": 0.4, "type": "word"},
        {"text": "(laughter)", "start": 0.5, "end": 0.9, "type": "audio_event"},
        {"text": "again", "start": 2.0, "end": 2.5, "type": "word"},
    ]
    done = task(result={"files": {}, "extra": {"text": "Hello again.", "language_code": "en", "words": words}})
    assert answers.transcript_body(done, "text") == "Hello again."
    assert answers.transcript_body(done, "json") == {
        "text": "Hello again.",
        "usage": {"type": "duration", "seconds": 2.5},
    }
    verbose = answers.transcript_body(done, "verbose_json", ("word",))
    assert isinstance(verbose, dict)
    assert (verbose["language"], verbose["duration"]) == ("en", 2.5)
    assert [s["text"] for s in verbose["segments"]] == ["Hello", "again"]  # split at the pause
    assert [w["word"] for w in verbose["words"]] == ["Hello", "again"]  # words only, no audio events
    assert "words" not in answers.transcript_body(done, "verbose_json")
    with pytest.raises(BadRequest, match="Supported values: json, text, verbose_json"):
        answers.transcript_format("srt")


def test_image_response_format_defaults_to_base64():
    assert answers.image_format(None) == "b64_json"
    assert answers.image_format("url") == "url"
    with pytest.raises(BadRequest):
        answers.image_format("png")


def test_the_video_kinds_are_the_actions_with_a_videos_block():
    kinds = videos.video_kinds(get_catalog())
    assert ("veo_3_1", "text_to_video") in kinds and ("veo_3_1", "extend_video") not in kinds
    assert (
        videos.route_of(get_catalog(), SimpleNamespace(model="veo-3.1", family="veo_3_1", action="extend_video"))
        is None
    )
