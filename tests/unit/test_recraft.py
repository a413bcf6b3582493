"""Recraft's adapter without a socket: every request the table can make is a multipart form Recraft's published
schema accepts, with our input image uploaded as the file part; the answer's link or inline image becomes the
result; errors keep Recraft's message. Over HTTP (a local fake): tests/e2e/test_upstream_recraft.py."""

from __future__ import annotations

import base64

import httpx
import pytest

from runapi.providers.upstream.adapter import Finished
from runapi.providers.upstream.errors import UpstreamError
from runapi.providers.upstream.recraft import Recraft, recraft_table
from tests.support import upstream_contract
from tests.support.fake_media import PNG
from tests.support.upstream_cases import StubInputs, cases, route_of, run_adapter, unknown_names


def answered(image: dict):
    return lambda request: httpx.Response(200, json={"created": 1, "credits": 1, "image": image})


LINK = {"image_id": "i", "url": "https://img.recraft.ai/x.png"}


def test_table_names_real_actions_models_and_params():
    assert unknown_names(recraft_table()) == {}


def test_every_pair_has_an_example_and_every_endpoint_a_contract():
    table = recraft_table()
    assert {r.app for m in table.entries.values() for r in m.routes} == set(upstream_contract.schemas("recraft"))
    assert {(a.key, m) for a, m, _ in cases(table, [])} == set(table.entries)


@pytest.mark.parametrize("case", cases(recraft_table(), []), ids=lambda c: c[0].key)
def test_every_request_is_a_form_recraft_accepts(case):
    inputs = StubInputs()
    outcome, sent = run_adapter(Recraft, *case, answered(LINK), inputs=inputs)
    assert isinstance(outcome, Finished) and [(f.kind, f.url) for f in outcome.files] == [("images", LINK["url"])]
    (call,) = sent
    endpoint = call.url.removeprefix("https://up.example/v1/v1/")
    assert endpoint == route_of(recraft_table(), *case).app
    parts = upstream_contract.multipart_parts(call.headers["content-type"], call.content)
    body = upstream_contract.form_body("recraft", endpoint, parts)
    assert upstream_contract.problems("recraft", endpoint, body) == []
    assert body == {"response_format": "url", "image_format": "png", "image": upstream_contract.FILE}
    assert [v for _, v in parts if isinstance(v, bytes)] == [PNG]
    assert inputs.fetched == [(case[2]["source_image_url"], 10 << 20, "image")]
    assert call.headers["authorization"] == "Bearer key-1"


def test_inline_images_missing_ones_and_errors():
    case = cases(recraft_table(), [])[0]
    outcome, _ = run_adapter(Recraft, *case, answered({"image_id": "i", "b64_json": base64.b64encode(PNG).decode()}))
    assert isinstance(outcome, Finished) and outcome.files[0].data == PNG
    outcome, _ = run_adapter(Recraft, *case, answered({"image_id": "i", "b64_json": "%%%"}))
    assert isinstance(outcome, UpstreamError) and "unreadable" in str(outcome)
    outcome, _ = run_adapter(Recraft, *case, answered({"image_id": "i"}))
    assert isinstance(outcome, UpstreamError) and outcome.retryable and "no image" in str(outcome)
    bad = {"code": "invalid_request", "message": "Image is too large"}
    outcome, _ = run_adapter(Recraft, *case, lambda r: httpx.Response(400, json=bad))
    assert isinstance(outcome, UpstreamError) and str(outcome) == "Image is too large" and not outcome.retryable
    outcome, _ = run_adapter(Recraft, *case, lambda r: httpx.Response(401, json={"message": "no"}))
    assert isinstance(outcome, UpstreamError) and outcome.retryable


def test_an_input_that_is_not_an_image_fails_before_any_call():
    case = cases(recraft_table(), [])[0]
    outcome, sent = run_adapter(
        Recraft, *case, answered(LINK), inputs=StubInputs({case[2]["source_image_url"]: b"not an image"})
    )
    assert sent == [] and "not a supported image" in str(outcome)
