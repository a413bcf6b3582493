"""The MCP tools as pure logic: their schemas against the platform's (@runapi.ai/mcp), the argument check, and
what the discovery tools derive from the catalog (models, fields, input rules, prices, prompts)."""

import pytest

from runapi.api.mcp import handlers
from runapi.api.mcp.contract import Contract, input_rules, modality_for_action
from runapi.api.mcp.pricing import price_answer
from runapi.api.mcp.prompts import search, tool_modality
from runapi.api.mcp.tools import TOOLS, TOOLS_BY_NAME, ToolArgumentError, checked_arguments
from runapi.catalog import get_catalog
from runapi.pricing import schedules
from runapi.prompts import PromptQuery, gallery, search_prompts
from tests.support.mcp import PLATFORM_TOOLS, tool_shape


@pytest.fixture(scope="module")
def contract():
    return Contract(get_catalog())


def test_the_tools_are_the_platforms_by_name_arguments_and_required_ones():
    assert [t.name for t in TOOLS] == list(PLATFORM_TOOLS)
    for tool in TOOLS:
        expected = PLATFORM_TOOLS[tool.name]
        assert tool_shape(tool.name, tool.input_schema) == {
            "required": sorted(expected["required"]),
            "properties": expected["properties"],
        }, tool.name
        assert tool.input_schema["type"] == "object" and tool.input_schema["additionalProperties"] is False
        assert tool.description


def test_arguments_are_checked_like_the_platforms_schema_library():
    create = TOOLS_BY_NAME["create_task"]
    args = checked_arguments(create, {"service": "s", "action": "a", "idempotency_key": "k", "unknown": 1})
    assert args == {"service": "s", "action": "a", "idempotency_key": "k", "params": {}, "wait": True}
    with pytest.raises(ToolArgumentError, match="idempotency_key: Required"):
        checked_arguments(create, {"service": "s", "action": "a"})
    with pytest.raises(ToolArgumentError, match="idempotency_key: String must contain at most 512"):
        checked_arguments(create, {"service": "s", "action": "a", "idempotency_key": "k" * 513})
    with pytest.raises(ToolArgumentError, match="timeout_ms: Number must be greater than 0"):
        checked_arguments(create, {"service": "s", "action": "a", "idempotency_key": "k", "timeout_ms": 0})
    with pytest.raises(ToolArgumentError, match="wait: Expected boolean, received string"):
        checked_arguments(create, {"service": "s", "action": "a", "idempotency_key": "k", "wait": "yes"})
    prompts = TOOLS_BY_NAME["search_prompts"]
    with pytest.raises(ToolArgumentError, match="modality: Invalid enum value"):
        checked_arguments(prompts, {"modality": "text"})
    with pytest.raises(ToolArgumentError, match="tags.1: Expected string, received number"):
        checked_arguments(prompts, {"tags": ["a", 2]})
    with pytest.raises(ToolArgumentError, match="per_page: Number must be less than or equal to 100"):
        checked_arguments(prompts, {"per_page": 101})


def test_every_catalog_model_is_one_contract_entry_under_the_platforms_service_slug(contract):
    catalog = get_catalog()
    expected = {(a.family, a.name, m) for a in catalog.actions() for m in a.models}
    assert {(e.action.family, e.action_name, e.model.id) for e in contract.entries} == expected
    veo = contract.find_model_for_action("veo-3-1", "text_to_video", "veo-3.1-fast")
    assert veo is not None and veo.service == "veo-3-1" and veo.model_line == catalog.families["veo_3_1"].title
    # either spelling of service and action; no model: the endpoint's default one
    assert contract.find_model_for_action("veo_3_1", "text-to-video", "veo-3.1-fast") == veo
    default = contract.find_model_for_action("nano-banana", "text_to_image")
    assert default is not None and default.model.id == "nano-banana"
    assert contract.find_model_for_action("nano-banana", "text_to_image", "suno-v5") is None
    assert contract.find_model_for_action("nope", "text_to_image") is None


def test_fields_are_the_models_own_parameters_with_their_constraints(contract):
    entry = contract.find_model_for_action("nano-banana", "text_to_image", "nano-banana")
    fields = {f.name: f.as_dict() for f in entry.fields}
    spec = entry.model.params
    assert set(fields) == {n for n, p in spec.items() if p.only_models is None or "nano-banana" in p.only_models}
    assert fields["prompt"]["required"] is True and fields["prompt"]["type"] == "string"
    assert fields["aspect_ratio"]["enum"] == list(spec["aspect_ratio"].enum)
    assert entry.required_fields == [n for n, p in spec.items() if p.required and n in fields]
    # a string's length bounds are its min/max (the platform's contract does the same, with `length`)
    bounded = next(
        (e, p) for e in contract.entries for p in e.model.params.values() if p.type == "string" and p.max_length
    )
    summary = next(f for f in bounded[0].fields if f.name == bounded[1].name)
    assert summary.max == bounded[1].max_length
    # only the constraints a field has are shown
    assert set(fields["prompt"]) <= {"name", "required", "type", "description", "min", "max"}


def test_a_parameter_of_other_models_only_is_not_a_field(contract):
    for entry in contract.entries:
        names = {f.name for f in entry.fields}
        for p in entry.model.params.values():
            if p.only_models is not None and entry.model.id not in p.only_models:
                assert p.name not in names


def test_input_rules_come_from_conditional_parameters_and_action_rules(contract):
    suno = contract.find_model_for_action("suno", "text_to_music", "suno-v5")
    rules = [r.as_dict() for r in input_rules(suno)]
    assert {"when": "vocal_mode == auto_lyrics", "required": ["prompt"], "forbidden": []} in rules
    persona = next(r for r in rules if "persona_type" in r["when"] and r.get("description"))
    assert "persona_type voice is only supported by model suno-v5" in persona["description"]
    plain = contract.find_model_for_action("z-image", "text_to_image")
    assert input_rules(plain) == []


def test_modality_follows_the_platforms_rule():
    assert [modality_for_action(a) for a in ("text_to_image", "edit_image", "remove_background")] == ["image"] * 3
    assert [modality_for_action(a) for a in ("image_to_video", "ai_avatar", "animate")] == ["video"] * 3
    assert [modality_for_action(a) for a in ("text_to_music", "text_to_speech", "isolate_audio")] == ["audio"] * 3
    assert modality_for_action("generate_lyrics") == "utility"


def test_the_price_is_the_models_price_schedule(contract):
    for entry in contract.entries:
        answer = price_answer(entry)
        schedule = answer["price_schedule"]
        assert schedule["service"] == entry.action.family and schedule["action"] == entry.action_name
        assert schedule["unit_price_cents"] == entry.model.price.cents
        assert answer["as_of"] == schedules.as_of()
    pro = price_answer(contract.find_model_for_action("nano-banana", "text_to_image", "nano-banana-pro"))
    assert pro["price_schedule"] == (
        schedules.list_schedules("nano_banana", "text_to_image", "nano-banana-pro").price_schedules[0].as_json()
    )
    # an endpoint without a model parameter is priced too (its schedule names no model)
    lyrics = price_answer(contract.find_model_for_action("suno", "generate_lyrics"))
    assert lyrics["price_schedule"]["model"] is None and lyrics["price_schedule"]["unit_price_cents"] >= 0


def test_discovery_tools_answer_in_the_platforms_shapes(contract):
    listed = handlers.list_models(contract, {"modality": "video", "service": "kling"})
    assert listed["source"] == "embedded catalog" and listed["count"] == len(listed["models"]) > 0
    assert all(m["service"] == "kling" and m["modality"] == "video" for m in listed["models"])
    assert set(listed["models"][0]) == {"model", "service", "action", "modality", "model_line", "required_fields"}
    assert (
        handlers.list_models(contract, {"service": "veo_3_1"})["count"]
        == handlers.list_models(contract, {"service": "veo-3-1"})["count"]
    )

    info = handlers.get_model_info(contract, {"model": "suno-v5"})
    assert (
        info["ambiguous"] is True
        and {"service": "suno", "action": "cover_audio", "modality": "audio"} in (info["matches"])
    )
    exact = handlers.get_model_info(contract, {"model": "suno-v5", "service": "suno", "action": "text_to_music"})
    assert "ambiguous" not in exact and exact["input_rules"] and exact["price"]["price_schedule"]["model"] == "suno-v5"
    assert handlers.get_model_info(contract, {"model": "nope"}) == {
        "error": "Unknown RunAPI model: nope",
        "hint": "Call list_models first to find valid model slugs.",
    }
    assert handlers.get_model_info(contract, {"model": "suno-v5", "service": "suno", "action": "text_to_video"})[
        "error"
    ] == ("Unsupported RunAPI model/action combination: suno/text_to_video with model suno-v5")

    groups = handlers.list_actions(contract)["groups"]
    assert "text_to_image" in next(g for g in groups if g["modality"] == "image")["actions"]

    priced = handlers.check_pricing(
        contract, {"service": "nano-banana", "action": "text_to_image", "model": "nano-banana"}
    )
    assert priced["supported"] is True and priced["price"]["price_schedule"]["unit_price_cents"] > 0
    assert handlers.check_pricing(contract, {"service": "missing", "action": "text_to_image"})["supported"] is False


def test_prompt_search_is_the_gallerys_in_the_tools_modalities():
    everything = search({"per_page": 100})
    assert everything["source"] == "RunAPI Prompt API" and everything["pagination"]["total"] == len(gallery())
    first = search_prompts(PromptQuery(per_page=1)).prompts[0]
    assert everything["prompts"][0] == {
        "id": first.id,
        "title": first.title,
        "prompt": first.prompt,
        "model": first.runapi_model,
        "service": first.service.replace("_", "-"),
        "action": first.action,
        "modality": everything["prompts"][0]["modality"],
        "category": first.category,
        "tags": list(first.tags),
        "featured": first.featured,
        "params": first.params,
    }
    lighthouse = search({"q": "lighthouse", "modality": "image"})
    assert lighthouse["count"] >= 1 and lighthouse["prompts"][0]["title"] == "Lighthouse at dawn, watercolour"
    assert lighthouse["prompts"][0]["service"] == "nano-banana" and lighthouse["prompts"][0]["featured"] is True
    # the tool's finer modalities: edits are not images, music is not audio, and together they are the gallery's
    edits = search({"modality": "image_edit", "per_page": 100})["prompts"]
    images = search({"modality": "image", "per_page": 100})["prompts"]
    assert edits and all(p["action"] != "text_to_image" for p in edits)
    assert all(p["action"] not in {e["action"] for e in edits} for p in images)
    assert len(edits) + len(images) == search_prompts(PromptQuery(modality="image", per_page=100)).total
    music = search({"modality": "music", "tags": ["suno"], "per_page": 100})["prompts"]
    speech = search({"modality": "audio", "per_page": 100})["prompts"]
    assert music and all(p["service"] == "suno" for p in music)
    assert speech and all(p["service"] != "suno" for p in speech)
    paged = search({"modality": "image_edit", "per_page": 2, "page": 2})
    assert paged["pagination"]["page"] == 2 and paged["count"] <= 2 and paged["prompts"] == edits[2:4]
    assert search({"modality": "video", "model": "no-such-model"})["count"] == 0
    refused = handlers.search_prompts({"page": 10_001})
    assert refused["error"].startswith("Prompt API unavailable: page must be an integer between 1 and")


def test_the_tools_prompt_modality_refines_the_gallerys():
    catalog = get_catalog()
    assert tool_modality(catalog.action("nano_banana", "text_to_image"), "image") == "image"
    assert tool_modality(catalog.action("nano_banana", "edit_image"), "image") == "image_edit"
    assert tool_modality(catalog.action("suno", "text_to_music"), "audio") == "music"
    assert tool_modality(catalog.action("elevenlabs", "text_to_speech"), "audio") == "audio"
    assert tool_modality(catalog.action("kling", "text_to_video"), "video") == "video"
