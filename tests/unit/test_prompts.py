"""The prompt gallery: built from the curated set and the catalog's examples; filters, paging, order; a curated
prompt that no longer validates stops the load."""

from __future__ import annotations

import pytest

from runapi.catalog import get_catalog
from runapi.errors import InvalidInput
from runapi.prompts import (
    MAX_PER_PAGE,
    PromptQuery,
    build_gallery,
    example_id,
    gallery,
    modality_of,
    prompt_text,
    search_prompts,
)

CURATED_ONE = {
    "title": "A test",
    "category": "landscape",
    "tags": ["sea", "Morning"],
    "difficulty": "beginner",
    "featured": True,
    "service": "nano_banana",
    "action": "text_to_image",
    "params": {"model": "nano-banana", "prompt": "A quiet harbour at first light"},
}


def test_every_curated_prompt_validates_and_the_catalog_examples_join_them():
    prompts = gallery()
    curated = [p for p in prompts if p.source == "curated"]
    assert len(curated) >= 10 and all(p.title for p in curated)
    examples = [p for p in prompts if p.source == "catalog"]
    assert len(examples) > 100
    assert len({p.id for p in prompts}) == len(prompts)
    assert {p.modality for p in prompts} >= {"image", "video", "audio"}
    assert all(p.prompt for p in prompts)


def test_a_curated_prompt_that_does_not_validate_stops_the_load():
    broken = {**CURATED_ONE, "params": {"model": "nano-banana-9000", "prompt": "x"}}
    with pytest.raises(ValueError, match="#1: its params do not validate: Invalid value for model"):
        build_gallery(get_catalog(), [broken])
    with pytest.raises(ValueError, match="no action nano_banana/paint"):
        build_gallery(get_catalog(), [{**CURATED_ONE, "action": "paint"}])
    with pytest.raises(ValueError, match="expected a mapping"):
        build_gallery(get_catalog(), [{**CURATED_ONE, "featurd": True}])


def test_example_ids_are_stable_and_above_the_curated_ones():
    action = get_catalog().action("nano_banana", "text_to_image")
    assert action is not None
    assert example_id(action, 0) == example_id(action, 0) != example_id(action, 1)
    assert example_id(action, 0) > 100_000


def test_modality_and_prompt_text():
    catalog = get_catalog()
    assert modality_of(catalog.action("veo_3_1", "text_to_video")) == "video"  # type: ignore[arg-type]
    assert modality_of(catalog.action("suno", "generate_lyrics")) == "text"  # type: ignore[arg-type]
    assert prompt_text({"prompt": "  ", "text": "spoken"}) == "spoken"
    assert prompt_text({"style": 0.5}) is None


def test_filters_combine():
    prompts = build_gallery(get_catalog(), [CURATED_ONE])
    assert search_prompts(PromptQuery(tags=("morning", "SEA")), prompts).total == 1  # tags: all, any case
    assert search_prompts(PromptQuery(tags=("sea", "dusk")), prompts).total == 0
    assert search_prompts(PromptQuery(q="HARBOUR first"), prompts).total == 1  # words: all, any case
    assert search_prompts(PromptQuery(q="harbour dusk"), prompts).total == 0
    only = search_prompts(PromptQuery(featured=True), prompts)
    assert [p.title for p in only.prompts] == ["A test"]
    videos = search_prompts(PromptQuery(modality="video", per_page=100), prompts)
    assert videos.total > 0 and all(p.modality == "video" for p in videos.prompts)
    veo = search_prompts(PromptQuery(model="veo-3.1-fast", per_page=100), prompts)
    assert veo.total > 0 and all(p.runapi_model == "veo-3.1-fast" for p in veo.prompts)
    by_category = search_prompts(PromptQuery(category="Landscape"), prompts)
    assert [p.title for p in by_category.prompts] == ["A test"]


def test_pages_cover_everything_once_featured_first():
    everything = gallery()
    seen = []
    first = search_prompts(PromptQuery(per_page=7))
    assert first.pages == -(-len(everything) // 7)
    for page in range(1, first.pages + 1):
        seen += [p.id for p in search_prompts(PromptQuery(page=page, per_page=7)).prompts]
    assert sorted(seen) == sorted(p.id for p in everything)
    featured = [p.featured for p in search_prompts(PromptQuery(per_page=MAX_PER_PAGE)).prompts]
    assert featured == sorted(featured, reverse=True)
    beyond = search_prompts(PromptQuery(page=first.pages + 1, per_page=7))
    assert beyond.prompts == () and beyond.total == len(everything)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"modality": "smell"}, "Invalid value for modality"),
        ({"page": 0}, "page must be"),
        ({"per_page": MAX_PER_PAGE + 1}, "per_page must be"),
    ],
)
def test_bad_queries_are_refused(query, message):
    with pytest.raises(InvalidInput, match=message):
        PromptQuery(**query)


def test_the_wire_shape_is_what_the_mcp_server_reads():
    body = search_prompts(PromptQuery(per_page=2)).to_wire()
    assert set(body) == {"prompts", "pagination"}
    assert set(body["pagination"]) == {"page", "per_page", "total", "pages"}
    item = body["prompts"][0]
    assert isinstance(item["id"], int) and isinstance(item["prompt"], str) and isinstance(item["tags"], list)
    for key in ("title", "modality", "service", "action", "runapi_model", "category", "params", "featured"):
        assert key in item
