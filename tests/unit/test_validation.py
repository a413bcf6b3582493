"""Nano Banana's documented constraints, checked through the catalog-driven validator."""

import pytest

from runapi.api.errors import http_status
from runapi.catalog import get_catalog
from runapi.catalog.conditions import evaluate
from runapi.catalog.validation import validate
from runapi.errors import RunapiError

T2I = get_catalog().action("nano_banana", "text_to_image")
EDIT = get_catalog().action("nano_banana", "edit_image")


def err(action, body):
    with pytest.raises(RunapiError) as info:
        validate(action, body)
    return http_status(info.value), info.value.message


def ok(action, body):
    return validate(action, body)[1]


def test_missing_required_parameters_are_400_with_the_documented_message():
    assert err(T2I, {"prompt": "x"}) == (400, "Missing required parameter: model")
    assert err(T2I, {"model": "nano-banana"}) == (400, "Missing required parameter: prompt")
    assert err(T2I, {"model": "nano-banana", "prompt": "   "}) == (400, "Missing required parameter: prompt")
    assert err(EDIT, {"model": "nano-banana-edit", "prompt": "x"}) == (
        400,
        "Missing required parameter: source_image_urls",
    )


def test_unknown_model_lists_the_allowed_models():
    status, message = err(T2I, {"model": "nano-banana-9", "prompt": "x"})
    assert status == 422
    assert "nano-banana, nano-banana-pro, nano-banana-2" in message
    assert err(EDIT, {"model": "nano-banana", "prompt": "x", "source_image_urls": ["https://a/b.png"]})[0] == 422


def test_defaults_differ_per_model():
    assert ok(T2I, {"model": "nano-banana", "prompt": "x"}) == {
        "model": "nano-banana",
        "prompt": "x",
        "output_format": "png",
        "aspect_ratio": "1:1",
    }
    assert ok(T2I, {"model": "nano-banana-2", "prompt": "x"}) == {
        "model": "nano-banana-2",
        "prompt": "x",
        "output_format": "jpg",
        "aspect_ratio": "auto",
        "output_resolution": "1k",
    }
    assert ok(T2I, {"model": "nano-banana-pro", "prompt": "x"})["output_resolution"] == "1k"
    assert ok(EDIT, {"model": "nano-banana-edit", "prompt": "x", "source_image_urls": ["https://h/a.png"]}) == {
        "model": "nano-banana-edit",
        "prompt": "x",
        "source_image_urls": ["https://h/a.png"],
        "output_format": "png",
        "aspect_ratio": "1:1",
    }


@pytest.mark.parametrize("ratio", ["1:4", "1:8", "4:1", "8:1"])
def test_v2_only_aspect_ratios(ratio):
    assert ok(T2I, {"model": "nano-banana-2", "prompt": "x", "aspect_ratio": ratio})["aspect_ratio"] == ratio
    for model in ("nano-banana", "nano-banana-pro"):
        status, message = err(T2I, {"model": model, "prompt": "x", "aspect_ratio": ratio})
        assert status == 422 and "aspect_ratio" in message and model in message


def test_prompt_length_per_model():
    assert ok(T2I, {"model": "nano-banana", "prompt": "a" * 5000})
    assert err(T2I, {"model": "nano-banana", "prompt": "a" * 5001}) == (
        422,
        "prompt must be at most 5000 characters for model nano-banana (got 5001)",
    )
    assert err(T2I, {"model": "nano-banana-pro", "prompt": "a" * 5001})[0] == 422
    assert ok(T2I, {"model": "nano-banana-2", "prompt": "a" * 20000})
    assert err(T2I, {"model": "nano-banana-2", "prompt": "a" * 20001})[0] == 422
    assert (
        err(EDIT, {"model": "nano-banana-edit", "prompt": "a" * 5001, "source_image_urls": ["https://h/a"]})[0] == 422
    )


def test_output_resolution_only_for_pro_and_v2():
    status, message = err(T2I, {"model": "nano-banana", "prompt": "x", "output_resolution": "2k"})
    assert status == 422
    assert message == (
        "Parameter output_resolution is not supported by model nano-banana "
        "(supported by: nano-banana-pro, nano-banana-2)"
    )
    assert ok(T2I, {"model": "nano-banana-pro", "prompt": "x", "output_resolution": "4k"})["output_resolution"] == "4k"
    assert err(T2I, {"model": "nano-banana-pro", "prompt": "x", "output_resolution": "8k"})[0] == 422


def test_reference_image_counts_per_model():
    urls = [f"https://img.example/{i}.png" for i in range(15)]
    assert ok(T2I, {"model": "nano-banana", "prompt": "x", "reference_image_urls": urls[:8]})
    assert err(T2I, {"model": "nano-banana", "prompt": "x", "reference_image_urls": urls[:9]})[0] == 422
    assert err(T2I, {"model": "nano-banana-pro", "prompt": "x", "reference_image_urls": urls[:9]})[0] == 422
    assert ok(T2I, {"model": "nano-banana-2", "prompt": "x", "reference_image_urls": urls[:14]})
    assert err(T2I, {"model": "nano-banana-2", "prompt": "x", "reference_image_urls": urls})[0] == 422
    # the docs' own example sends an empty list
    assert ok(T2I, {"model": "nano-banana", "prompt": "x", "reference_image_urls": []})["reference_image_urls"] == []
    assert err(EDIT, {"model": "nano-banana-edit", "prompt": "x", "source_image_urls": []}) == (
        422,
        "source_image_urls must contain at least 1 item(s) (got 0)",
    )


def test_edit_source_count_and_format():
    urls = [f"https://img.example/{i}.png" for i in range(11)]
    base = {"model": "nano-banana-edit", "prompt": "x"}
    assert ok(EDIT, {**base, "source_image_urls": urls[:10]})
    assert err(EDIT, {**base, "source_image_urls": urls})[0] == 422
    assert ok(EDIT, {**base, "source_image_urls": urls[:1], "output_format": "jpeg"})["output_format"] == "jpeg"
    assert err(EDIT, {**base, "source_image_urls": urls[:1], "output_format": "jpg"})[0] == 422


def test_types_and_urls():
    assert err(T2I, {"model": "nano-banana", "prompt": 5}) == (422, "Invalid type for prompt: expected a string")
    assert err(T2I, {"model": "nano-banana", "prompt": "x", "reference_image_urls": "https://a/b"})[0] == 422
    assert err(T2I, {"model": "nano-banana", "prompt": "x", "reference_image_urls": [3]})[0] == 422
    assert err(T2I, {"model": "nano-banana", "prompt": "x", "callback_url": "ftp://x/y"})[0] == 422
    assert err(T2I, {"model": "nano-banana", "prompt": "x", "reference_image_urls": ["not a url"]})[0] == 422
    assert err(T2I, ["not", "an", "object"])[0] == 400


def test_prices_are_integer_cents_per_model_and_resolution():
    def price(body):
        model, params = validate(T2I, body)
        return model.quote(params)

    assert price({"model": "nano-banana", "prompt": "x"}) == 4
    assert price({"model": "nano-banana-pro", "prompt": "x"}) == 12
    assert price({"model": "nano-banana-pro", "prompt": "x", "output_resolution": "4k"}) == 24
    assert price({"model": "nano-banana-2", "prompt": "x", "output_resolution": "2k"}) == 12


def test_conditions():
    assert evaluate("model in [a, b] and mode == ref", {"model": "a", "mode": "ref"})
    assert not evaluate("model in [a, b] and mode == ref", {"model": "c", "mode": "ref"})
    assert evaluate("x == 1 or y is set", {"y": 0})
    assert evaluate("flag == true", {"flag": True})
    assert evaluate("m not in ['a']", {"m": "b"})


def test_price_quote_per_quantity_defaults_and_value_spellings():
    from runapi.catalog import Price

    per_second = Price(cents=10, per="duration_seconds")
    assert per_second.quote({"duration_seconds": 8}) == 80
    assert per_second.quote({}) == 10  # no per_default: one unit
    assert Price(cents=10, per="duration_seconds", per_default=5).quote({}) == 50
    assert per_second.quote({"duration_seconds": "6s"}) == 60
    assert per_second.quote({"duration_seconds": 2.5}) == 25
    assert Price(cents=3, per="n", per_default=4).quote({}) == 12
    flags = Price(cents=5, by={"enable_pro": {"true": 9}, "size": {"4": 7}})
    assert flags.quote({"enable_pro": True}) == 9 and flags.quote({"enable_pro": False}) == 5
    assert flags.quote({"size": 4.0}) == 7


def test_empty_lists_count_as_not_set():
    assert not evaluate("refs is set", {"refs": []})
    assert evaluate("refs is not set", {"refs": []})
    assert evaluate("refs is set", {"refs": ["a"]})


def test_conditions_compare_two_parameters():
    assert evaluate("end > $start", {"end": 5, "start": 2})
    assert not evaluate("end > $start", {"end": 2, "start": 2})
    assert not evaluate("end > $start", {"end": 2})  # nothing to compare with
