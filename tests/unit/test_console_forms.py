"""Playground forms from the catalog: each parameter's input follows its type (enums as selects, ranges as
bounded numbers, required marks, defaults, URL inputs that take uploads), per model; and the submitted form
reads back into a body the catalog's own validation accepts."""

import pytest

from runapi.catalog import get_catalog
from runapi.catalog.validation import validate
from runapi.console.forms import HIDDEN_PARAMS, Kind, body_from_form, fields_for
from runapi.errors import InvalidInput


def action(key):
    family, name = key.split("/")
    return get_catalog().action(family, name)


def form_of(key, model):
    a = action(key)
    return a, a.models[model], {f.name: f for f in fields_for(a, a.models[model])}


def enums(spec):
    return {name: p.enum for name, p in spec.params.items()}


def test_types_become_inputs_with_their_bounds_marks_and_defaults():
    _, _, fields = form_of("nano_banana/text_to_image", "nano-banana")
    assert fields["prompt"].kind is Kind.TEXTAREA and fields["prompt"].required
    assert fields["prompt"].max_length == 5000  # the model's own override
    ratio = fields["aspect_ratio"]
    assert ratio.kind is Kind.SELECT and not ratio.required and ratio.default == "1:1"
    assert [o.value for o in ratio.options][:3] == ["1:1", "9:16", "16:9"]  # nano-banana's own list
    refs = fields["reference_image_urls"]
    assert refs.kind is Kind.URL_LIST and refs.takes_files and refs.accept == "image/*" and refs.max_items == 8
    assert not HIDDEN_PARAMS & set(fields)  # the model is picked above the form
    assert list(fields)[0] == "prompt"  # required fields first
    assert list(fields)[-1] == "callback_url" and fields["callback_url"].kind is Kind.URL  # last: to try a receiver


def test_parameters_of_other_models_are_not_offered():
    _, _, basic = form_of("nano_banana/text_to_image", "nano-banana")
    _, _, pro = form_of("nano_banana/text_to_image", "nano-banana-pro")
    assert "output_resolution" not in basic  # only_models: pro and 2
    assert pro["output_resolution"].kind is Kind.SELECT and pro["output_resolution"].default == "1k"


def test_numbers_booleans_and_numeric_enums():
    _, _, fields = form_of("grok_imagine/text_to_video", "grok-imagine-text-to-video")
    duration = fields["duration_seconds"]
    assert duration.kind is Kind.NUMBER and (duration.min, duration.max, duration.step) == (6, 30, "1")
    assert fields["enable_safety_checker"].kind is Kind.BOOLEAN
    _, _, tts = form_of("elevenlabs/text_to_speech", "text-to-speech-turbo-v2.5")
    assert tts["speed"].step == "any" and (tts["speed"].min, tts["speed"].max) == (0.7, 1.2)
    _, _, gpt = form_of("gpt_4o_image/text_to_image", "gpt-4o-image")
    assert gpt["output_count"].kind is Kind.SELECT and [o.value for o in gpt["output_count"].options] == ["1", "2", "4"]


def test_arrays_of_objects_are_json():
    _, _, fields = form_of("elevenlabs/text_to_dialogue", "text-to-dialogue-v3")
    assert fields["dialogue"].kind is Kind.JSON and fields["dialogue"].required


def test_a_filled_form_reads_back_into_a_valid_request():
    a, spec, fields = form_of("gpt_4o_image/text_to_image", "gpt-4o-image")
    ratio = fields["aspect_ratio"]
    assert ratio.required and ratio.kind is Kind.SELECT and not ratio.default  # the page asks to choose
    form = {
        "prompt": "  a red kite  ",
        "output_count": "2",
        "enable_prompt_expansion": "false",
        "aspect_ratio": ratio.options[0].value,
        "size": "",
    }
    body = body_from_form(list(fields.values()), form, {}, enums(spec))
    assert body["output_count"] == 2 and body["enable_prompt_expansion"] is False
    assert "size" not in body  # blank: the catalog's default applies
    model, params = validate(a, {**body, "model": spec.id})
    assert model.id == "gpt-4o-image" and params["output_count"] == 2


def test_uploaded_files_fill_url_parameters():
    a, spec, fields = form_of("nano_banana/edit_image", "nano-banana-edit")
    uploaded = {"source_image_urls": ["http://127.0.0.1:8000/files/uploads/1/f/a.png?expires=1&signature=x"]}
    body = body_from_form(
        list(fields.values()),
        {"prompt": "make it blue", "source_image_urls": "https://example.com/b.png\n"},
        uploaded,
        enums(spec),
    )
    assert body["source_image_urls"] == ["https://example.com/b.png", uploaded["source_image_urls"][0]]
    validate(a, {**body, "model": spec.id})


def test_bad_numbers_and_json_are_refused_in_the_catalogs_words():
    _, spec, fields = form_of("grok_imagine/text_to_video", "grok-imagine-text-to-video")
    with pytest.raises(InvalidInput, match="Invalid type for duration_seconds: expected an integer"):
        body_from_form(list(fields.values()), {"prompt": "x", "duration_seconds": "6.5"}, {}, enums(spec))
    _, spec, fields = form_of("elevenlabs/text_to_dialogue", "text-to-dialogue-v3")
    with pytest.raises(InvalidInput, match="dialogue must be valid JSON"):
        body_from_form(list(fields.values()), {"dialogue": "[{"}, {}, enums(spec))


def test_every_action_of_the_catalog_has_a_form():
    for a in get_catalog().actions():
        for spec in a.models.values() or [None]:
            for f in fields_for(a, spec):
                assert f.label and f.input_id == f"param-{f.name}"
                if f.kind is Kind.SELECT:
                    assert f.options
