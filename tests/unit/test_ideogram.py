"""Ideogram's adapter without a socket: every request the table can make (the catalog's examples and extra ones
reaching every route) is a multipart form Ideogram's published schema accepts, with our input images uploaded
as file parts; what Ideogram cannot take is refused before any call; results, withheld images and errors are
read as Ideogram documents them. Over HTTP (a local fake): tests/e2e/test_upstream_ideogram.py."""

from __future__ import annotations

import httpx
import pytest

from runapi.providers.upstream.adapter import Finished
from runapi.providers.upstream.errors import UpstreamError
from runapi.providers.upstream.ideogram import Ideogram, ideogram_table
from tests.support import upstream_contract
from tests.support.fake_media import PNG
from tests.support.upstream_cases import StubInputs, cases, extra_cases, route_of, run_adapter, unknown_names

IMG = "https://example.com/a.png"
EXTRA = [
    (
        "ideogram_v3/text_to_image",
        {"model": "ideogram-v3-text-to-image", "prompt": "a fox", "enable_prompt_expansion": False},
    ),
    (
        "ideogram_v3/remix_image",
        {"model": "ideogram-v3-remix", "prompt": "a fox", "source_image_url": IMG, "strength": 0.01},
    ),
]
REFUSED = [
    ("ideogram_v3/text_to_image", {"model": "ideogram-v3-text-to-image", "prompt": "a fox", "seed": -1}),
    (
        "ideogram_v3/text_to_image",
        {"model": "ideogram-v3-character", "prompt": "a fox", "reference_image_urls": [IMG], "seed": 2**31},
    ),
    (
        "ideogram_v3/edit_image",
        {"model": "ideogram-v3-edit", "prompt": "x", "source_image_url": IMG, "mask_url": IMG, "seed": -5},
    ),
    (
        "ideogram_v3/edit_image",
        {
            "model": "ideogram-v3-character-edit",
            "prompt": "x",
            "source_image_url": IMG,
            "mask_url": IMG,
            "reference_image_urls": [IMG],
            "seed": -5,
        },
    ),
    ("ideogram_v3/remix_image", {"model": "ideogram-v3-remix", "prompt": "x", "source_image_url": IMG, "seed": -1}),
    (
        "ideogram_v3/remix_image",
        {
            "model": "ideogram-v3-character-remix",
            "prompt": "x",
            "source_image_url": IMG,
            "reference_image_urls": [IMG],
            "seed": -1,
        },
    ),
    (
        "ideogram_v3/reframe_image",
        {"model": "ideogram-v3-reframe", "source_image_url": IMG, "aspect_ratio": "1:1", "seed": -1},
    ),
    (
        "ideogram_v3/reframe_image",
        {"model": "ideogram-v3-reframe", "source_image_url": IMG, "aspect_ratio": "1:1", "style": "design"},
    ),
]


def made(n: int = 1, safe: bool = True):
    def respond(request: httpx.Request) -> httpx.Response:
        item = {"url": "https://ideogram.ai/api/images/ephemeral/x.png" if safe else None, "is_image_safe": safe}
        return httpx.Response(200, json={"created": "2026-12-06T00:00:00Z", "data": [item] * n})

    return respond


def form(call) -> tuple[str, dict, list]:
    endpoint = call.url.removeprefix("https://up.example/v1/v1/")
    parts = upstream_contract.multipart_parts(call.headers["content-type"], call.content)
    return endpoint, upstream_contract.form_body("ideogram", endpoint, parts), parts


def test_table_names_real_actions_models_and_params():
    assert unknown_names(ideogram_table()) == {}


def test_every_route_has_a_contract_and_a_request_that_reaches_it():
    table = ideogram_table()
    apps = {r.app for m in table.entries.values() for r in m.routes if r.refuse is None}
    assert apps == set(upstream_contract.schemas("ideogram"))
    key = lambda r: (r.app, r.when, r.refuse)  # noqa: E731
    reached = {(a.key, m, key(route_of(table, a, m, b))) for a, m, b in cases(table, EXTRA + REFUSED)}
    assert {(k, m, key(r)) for (k, m), mp in table.entries.items() for r in mp.routes} - reached == set()
    assert all(route_of(table, *c).refuse for c in extra_cases(ideogram_table(), REFUSED))


@pytest.mark.parametrize(
    "case", [c for c in cases(ideogram_table(), EXTRA) if not route_of(ideogram_table(), *c).refuse], ids=str
)
def test_every_request_is_a_form_ideogram_accepts(case):
    inputs = StubInputs()
    outcome, sent = run_adapter(Ideogram, *case, made(), inputs=inputs)
    assert isinstance(outcome, Finished), outcome
    (call,) = sent
    endpoint, body, parts = form(call)
    assert call.headers["api-key"] == "key-1" and call.headers["content-type"].startswith("multipart/form-data")
    assert upstream_contract.problems("ideogram", endpoint, body) == []
    assert [v for _, v in parts if isinstance(v, bytes)] == [PNG] * len(inputs.fetched)
    assert all(limit == 10 << 20 and what == "image" for _, limit, what in inputs.fetched)


@pytest.mark.parametrize("case", extra_cases(ideogram_table(), REFUSED), ids=str)
def test_what_ideogram_cannot_take_is_refused_without_a_call(case):
    outcome, sent = run_adapter(Ideogram, *case, made())
    assert isinstance(outcome, UpstreamError) and outcome.out_of_reach and sent == []


def _sent(model: str) -> tuple[str, dict, list]:
    table = ideogram_table()
    case = max((c for c in cases(table, []) if c[1] == model), key=lambda c: len(c[2]))  # the fullest example
    _, sent = run_adapter(Ideogram, *case, made())
    return form(sent[0])


def test_our_values_become_ideograms():
    endpoint, body, _ = _sent("ideogram-v3-text-to-image")
    assert endpoint == "ideogram-v3/generate"
    assert body == {
        "prompt": "A minimalist poster that reads OPEN LATE",
        "rendering_speed": "TURBO",
        "magic_prompt": "ON",
        "num_images": 2,
        "seed": 42,
        "style_type": "DESIGN",
        "aspect_ratio": "9x16",
        "negative_prompt": "blurry text",
    }
    endpoint, body, _ = _sent("ideogram-v3-character-remix")
    assert endpoint == "ideogram-v3/remix" and body["image_weight"] == 50 and body["aspect_ratio"] == "16x9"
    assert body["style_type"] == "FICTION" and body["rendering_speed"] == "BALANCED"  # our default
    files = {k: v for k, v in body.items() if v == upstream_contract.FILE or v == [upstream_contract.FILE]}
    assert set(files) == {
        "image",
        "character_reference_images",
        "character_reference_images_mask",
        "style_reference_images",
    }
    endpoint, body, _ = _sent("ideogram-v3-reframe")
    assert endpoint == "ideogram-v3/reframe" and body["resolution"] == "864x1152" and "style_type" not in body
    endpoint, body, _ = _sent("ideogram-v3-character-edit")
    assert (
        endpoint == "ideogram-v3/edit" and body["mask"] == upstream_contract.FILE and body["style_type"] == "REALISTIC"
    )
    _, body, _ = form(run_adapter(Ideogram, *extra_cases(ideogram_table(), EXTRA)[1], made())[1][0])
    assert body["image_weight"] == 1 and "magic_prompt" not in body


def test_results_withheld_images_and_errors():
    case = cases(ideogram_table(), [])[0]
    outcome, _ = run_adapter(Ideogram, *case, made(3))
    assert isinstance(outcome, Finished) and [f.kind for f in outcome.files] == ["images"] * 3
    outcome, _ = run_adapter(Ideogram, *case, made(2, safe=False))
    assert isinstance(outcome, UpstreamError) and not outcome.retryable and "safety" in str(outcome)
    outcome, _ = run_adapter(Ideogram, *case, lambda r: httpx.Response(200, json={"data": []}))
    assert isinstance(outcome, UpstreamError) and outcome.retryable
    refusal = {"error": "Prompt provided failed safety check due to the inclusion of prohibited content."}
    outcome, _ = run_adapter(Ideogram, *case, lambda r: httpx.Response(422, json=refusal))
    assert isinstance(outcome, UpstreamError) and str(outcome) == refusal["error"] and not outcome.retryable
    outcome, _ = run_adapter(Ideogram, *case, lambda r: httpx.Response(429, headers={"Retry-After": "4"}))
    assert isinstance(outcome, UpstreamError) and outcome.rate_limited and outcome.retry_after == 4.0
