"""Price schedules and quotes (pricing/schedules.py): read from the catalogs, a quote priced and refused by
the create's own functions."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from runapi.auth.principal import Principal
from runapi.catalog import get_catalog
from runapi.catalog.validation import validate
from runapi.errors import BadRequest, Forbidden, InvalidInput, MissingParameter, RunapiError
from runapi.llm import billing as llm_billing
from runapi.llm.models import llm_models
from runapi.pricing import schedules as prices
from runapi.tasks.submit import reservation_cents, validated

WHO = Principal(
    key_id="key_1",
    account_id=1,
    membership_id="m_1",
    user_id=1,
    role="admin",
    kind="api",
    allowed_models=None,
    credit_limit_cents=None,
    credit_limit_reset_interval=None,
)


def quote(service: str, action: str, model: str | None = None, **params: object) -> prices.PriceQuote:
    body: dict[str, object] = {"service": service, "action": action, "params": params}
    if model is not None:
        body["model"] = model
    return prices.quote(WHO, body)


# ------------------------------------------------------------------------------------------------ schedules


def test_every_catalog_model_has_one_schedule_with_its_price():
    schedules = prices.list_schedules().price_schedules
    media = [s for s in schedules if s.service != prices.LLM_SERVICE]
    expected = [(a, m) for a in get_catalog().actions() for m in a.models.values()]
    assert len(media) == len(expected)
    for schedule, (action, model) in zip(media, expected, strict=True):
        assert (schedule.service, schedule.action) == (action.family, action.name)
        assert schedule.model == (None if action.model_param == "absent" else model.id)
        assert schedule.unit_price_cents == model.price.cents
        assert schedule.billing_config.get("tiers", {}) == model.price.by
        assert schedule.billing_config.get("quantity_param") == model.price.per
        assert schedule.input_price_per_1m_cents is None
        assert (schedule.pricing_status, schedule.catalog_status, schedule.currency) == ("available", "active", "USD")


def test_llm_schedules_carry_token_prices_with_cache_reads_and_writes():
    llm = {s.model: s for s in prices.list_schedules(service="llm").price_schedules}
    assert set(llm) == set(llm_models())
    opus = llm["claude-opus-4-6"]
    assert (opus.action, opus.billing_unit, opus.billing_strategy) == ("chat", "per_1m_tokens", "per_token")
    assert (
        opus.input_price_per_1m_cents,
        opus.output_price_per_1m_cents,
        opus.cache_read_price_per_1m_cents,
        opus.cache_write_5m_price_per_1m_cents,
        opus.cache_write_1h_price_per_1m_cents,
        opus.cache_write_price_per_1m_cents,
    ) == (500, 2500, 50, 625, 1000, 625)
    assert opus.unit_price_cents is None and opus.billing_config == {"max_output_tokens": 128000}
    gpt = llm["gpt-5.2"]  # no cache-write price of its own: writes cost plain input, as billed
    assert (gpt.cache_read_price_per_1m_cents, gpt.cache_write_5m_price_per_1m_cents) == (15, 150)
    assert llm["text-embedding-3-small"].action == "embedding"


def test_billing_units_and_strategies():
    def one(service: str, action: str, model: str | None = None) -> prices.PriceSchedule:
        (found,) = prices.list_schedules(service, action, model).price_schedules
        return found

    flat = one("nano_banana", "text_to_image", "nano-banana")
    assert (flat.billing_unit, flat.billing_strategy, flat.billing_config) == ("per_call", "flat", {})
    tiered = one("nano_banana", "text_to_image", "nano-banana-pro")
    assert tiered.billing_strategy == "tiered" and tiered.billing_config == {"tiers": {"output_resolution": {"4k": 24}}}
    seconds = one("veo_3_1", "text_to_video", "veo-3.1")
    assert (seconds.billing_unit, seconds.billing_strategy) == ("per_second", "per_unit")
    assert seconds.billing_config == {"quantity_param": "duration_seconds", "default_quantity": 8}
    assert one("kling", "text_to_video", "kling-3.0").billing_config["default_quantity"] == 5  # per_default
    images = one("seedream", "text_to_image", "seedream-v4-text-to-image")
    assert (images.billing_unit, images.billing_strategy) == ("per_image", "tiered_per_unit")
    assert "default_quantity" not in one("runway", "text_to_video").billing_config  # duration is required


def test_as_json_has_every_field_the_sdks_read_and_nothing_internal():
    body = prices.list_schedules("runway", "text_to_video").as_json()
    datetime.strptime(body["as_of"], "%Y-%m-%dT%H:%M:%S.%fZ")
    (item,) = body["price_schedules"]
    assert "priced_as" not in item and item["model"] is None
    assert item["billing_strategy"] == "tiered_per_unit" and type(item["billing_strategy"]) is str
    for name in ("service", "action", "pricing_status", "catalog_status", "currency", "billing_unit"):
        assert isinstance(item[name], str)
    for kind in ("input", "output", "cache_read", "cache_write", "cache_write_5m", "cache_write_1h"):
        assert f"{kind}_price_per_1m_cents" in item
    assert isinstance(item["billing_config"], dict)


def test_filters_accept_hyphens_and_model_less_entries():
    assert prices.list_schedules("nano-banana", "text-to-image") == prices.list_schedules(
        "nano_banana", "text_to_image"
    )
    assert {s.service for s in prices.list_schedules("Veo-3-1").price_schedules} == {"veo_3_1"}
    # an endpoint without a model parameter is found by the catalog's entry for it (the MCP contract names it)
    (runway,) = prices.list_schedules("runway", "text_to_video", "runway").price_schedules
    assert runway.model is None
    by_model = prices.list_schedules(model="suno-v5").price_schedules  # every action offering it
    assert len(by_model) > 1 and {(s.service, s.model) for s in by_model} == {("suno", "suno-v5")}
    assert "text_to_music" in {s.action for s in by_model}
    assert prices.list_schedules(" ", "", None) == prices.list_schedules()  # blank filters count as absent


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        (("nope", None, None), "Invalid value for service: 'nope'. Allowed values: elevenlabs, "),
        (
            ("suno", "text_to_image", None),
            "Invalid value for action: 'text_to_image'. Allowed values: add_instrumental",
        ),
        (("suno", "text_to_music", "gpt-5.2"), "Invalid value for model: 'gpt-5.2'. Allowed values: suno-v5, "),
        ((None, None, "no-such-model"), "Invalid value for model: 'no-such-model'"),
    ],
)
def test_filters_naming_nothing_priced_are_refused(filters, message):
    with pytest.raises(InvalidInput) as info:
        prices.list_schedules(*filters)
    assert info.value.message.startswith(message)


# ------------------------------------------------------------------------------------------------- quotes


@pytest.mark.parametrize(
    ("service", "action", "body", "cents"),
    [
        ("nano_banana", "text_to_image", {"model": "nano-banana", "prompt": "x"}, 4),
        ("nano_banana", "text_to_image", {"model": "nano-banana-pro", "prompt": "x"}, 12),  # default 1k
        ("nano_banana", "text_to_image", {"model": "nano-banana-pro", "prompt": "x", "output_resolution": "4k"}, 24),
        ("veo_3_1", "text_to_video", {"model": "veo-3.1", "prompt": "x"}, 40 * 8),  # default length, per second
        ("veo_3_1", "text_to_video", {"model": "veo-3.1-fast", "prompt": "x", "duration_seconds": 4}, 15 * 4),
        ("kling", "text_to_video", {"model": "kling-3.0", "prompt": "x", "aspect_ratio": "16:9"}, 10 * 5),
        ("seedream", "text_to_image", {"model": "seedream-v4-text-to-image", "prompt": "x", "output_count": 3}, 9),
        (
            "seedream",
            "text_to_image",
            {"model": "seedream-v4-text-to-image", "prompt": "x", "output_count": 2, "output_resolution": "4k"},
            10,
        ),
        (
            "runway",
            "text_to_video",
            {"prompt": "x", "duration_seconds": 10, "output_resolution": "1080p", "aspect_ratio": "16:9"},
            120,
        ),
    ],
)
def test_a_quote_is_what_the_create_reserves(service, action, body, cents):
    spec = get_catalog().action(service, action)
    assert spec is not None
    model = body.get("model")
    params = {k: v for k, v in body.items() if k != "model"}
    found = quote(service, action, model, **params)
    assert found.reservation_amount_cents == cents
    assert found.reservation_amount_cents == reservation_cents(validated(WHO, spec, body))  # the create's price
    assert (found.service, found.action, found.estimate_basis, found.as_of) == (
        service,
        action,
        "exact",
        prices.as_of(),
    )
    assert found.model == (model if spec.model_param != "absent" else None)


def test_a_multi_shot_video_is_quoted_at_the_sum_of_its_shots():
    shots = [{"prompt": "a", "duration_seconds": 4}, {"prompt": "b", "duration_seconds": 5}]
    found = quote(
        "kling",
        "text_to_video",
        "kling-3.0",
        multi_shots=True,
        enable_sound=True,
        aspect_ratio="16:9",
        multi_prompt=shots,
    )
    assert found.reservation_amount_cents == 10 * 9


def test_a_quote_takes_hyphens_and_a_model_inside_params():
    assert quote("nano-banana", "text-to-image", prompt="x", model="nano-banana-2").reservation_amount_cents == 8
    body = {"service": "nano_banana", "action": "text_to_image", "model": "nano-banana"}
    top_level_wins = prices.quote(WHO, {**body, "params": {"prompt": "x", "model": "nano-banana-pro"}})
    assert (top_level_wins.model, top_level_wins.reservation_amount_cents) == ("nano-banana", 4)


def test_every_catalog_example_is_quoted_at_its_create_price():
    for action in get_catalog().actions():
        for example in action.examples:
            model, params = validate(action, example)
            body = {k: v for k, v in example.items() if k != "model"}
            found = quote(action.family, action.name, example.get("model"), **body)
            assert found.reservation_amount_cents == (model.quote(params) if model else 0), (action.key, example)


def refusal(service: object, action: object, model: object = None, params: object = None) -> RunapiError:
    body = {"service": service, "action": action, "model": model, "params": params}
    with pytest.raises(RunapiError) as info:
        prices.quote(WHO, body)
    return info.value


def test_a_quote_is_refused_as_the_create_would_be():
    spec = get_catalog().action("nano_banana", "text_to_image")
    assert spec is not None
    for body in (
        {"model": "nano-banana", "prompt": "x", "aspect_ratio": "8:1"},  # invalid value: 422
        {"model": "nano-banana"},  # missing prompt: 400
        {"prompt": "x"},  # missing model: 400
        {"model": "no-such", "prompt": "x"},
    ):
        with pytest.raises(RunapiError) as create:
            validated(WHO, spec, body)
        params = {k: v for k, v in body.items() if k != "model"}
        got = refusal("nano_banana", "text_to_image", body.get("model"), params)
        assert (type(got), got.message) == (type(create.value), create.value.message)


def test_quote_request_refusals():
    assert isinstance(refusal(None, "text_to_image"), MissingParameter)
    assert refusal(None, "text_to_image").message == "Missing required parameter: service"
    assert refusal("nano_banana", " ").message == "Missing required parameter: action"
    assert refusal(5, "text_to_image").message == "Invalid type for service: expected a string"
    assert refusal("nano_banana", "text_to_image", 5).message == "Invalid type for model: expected a string"
    assert refusal("nope", "text_to_image").message.startswith("Invalid value for service: 'nope'")
    assert refusal("suno", "text_to_image").message.startswith("Invalid value for action: 'text_to_image'")
    params = refusal("nano_banana", "text_to_image", "nano-banana", [1])
    assert (type(params), params.message) == (InvalidInput, "Invalid type for params: expected an object")
    with pytest.raises(BadRequest):
        prices.quote(WHO, [1])


def test_quote_honours_the_keys_allowed_models_and_kind():
    narrow = replace(WHO, allowed_models=("nano-banana",))
    assert prices.quote(
        narrow, {"service": "nano_banana", "action": "text_to_image", "model": "nano-banana", "params": {"prompt": "x"}}
    )
    with pytest.raises(InvalidInput, match="Model nano-banana-pro is not allowed for this API key"):
        prices.quote(
            narrow,
            {
                "service": "nano_banana",
                "action": "text_to_image",
                "model": "nano-banana-pro",
                "params": {"prompt": "x"},
            },
        )
    with pytest.raises(InvalidInput, match="Model gpt-5.2 is not allowed for this API key"):
        prices.quote(narrow, {"service": "llm", "action": "chat", "model": "gpt-5.2", "params": {"input_tokens": 1}})
    with pytest.raises(Forbidden):
        prices.quote(replace(WHO, kind="management"), {"service": "nano_banana", "action": "text_to_image"})


def test_llm_quotes_are_what_a_call_reserves():
    opus = llm_models()["claude-opus-4-6"]
    plain = quote("llm", "chat", "claude-opus-4-6", input_tokens=10_000, max_tokens=1_000)
    assert plain.reservation_amount_cents == llm_billing.reservation_cents(opus, 10_000, 1_000) == 8  # 5 + 2.5
    assert plain.estimate_basis == "maximum" and plain.model == "claude-opus-4-6"
    cached = quote("llm", "chat", "claude-opus-4-6", input_tokens=10_000, max_tokens=1_000, caching=True)
    assert cached.reservation_amount_cents == llm_billing.reservation_cents(opus, 10_000, 1_000, True) == 13  # 1h write
    uncapped = quote("llm", "chat", "claude-opus-4-6", input_tokens=0)  # no max_tokens: the model's output cap
    assert uncapped.reservation_amount_cents == llm_billing.reservation_cents(opus, 0, None) == 320
    assert quote("llm", "chat", "claude-opus-4-6", input_tokens=10_000, max_tokens=1_000, caching=None) == plain
    embedding = quote("llm", "embedding", "text-embedding-3-large", input_tokens=2_000_000)
    assert embedding.reservation_amount_cents == 26


@pytest.mark.parametrize(
    ("model", "params", "error", "message"),
    [
        (None, {"input_tokens": 1}, MissingParameter, "Missing required parameter: model"),
        ("gpt-5.2", {}, MissingParameter, "Missing required parameter: input_tokens"),
        ("gpt-5.2", {"input_tokens": "9"}, InvalidInput, "Invalid type for input_tokens: expected an integer"),
        ("gpt-5.2", {"input_tokens": True}, InvalidInput, "Invalid type for input_tokens: expected an integer"),
        ("gpt-5.2", {"input_tokens": -1}, InvalidInput, "input_tokens must be at least 0 (got -1)"),
        ("gpt-5.2", {"input_tokens": 2**64}, InvalidInput, f"input_tokens must be at most {2**63 - 1} (got {2**64})"),
        ("gpt-5.2", {"input_tokens": 1, "max_tokens": 0}, InvalidInput, "max_tokens must be at least 1 (got 0)"),
        (
            "gpt-5.2",
            {"input_tokens": 1, "caching": "yes"},
            InvalidInput,
            "Invalid type for caching: expected a boolean",
        ),
        (
            "text-embedding-3-large",
            {"input_tokens": 1},
            InvalidInput,
            "Invalid value for model: 'text-embedding-3-large'",
        ),
    ],
)
def test_llm_quote_refusals(model, params, error, message):
    got = refusal("llm", "chat", model, params)
    assert type(got) is error and got.message.startswith(message)


def test_the_largest_quotes_fit_the_api_integers():
    big = quote("llm", "chat", "claude-opus-4-6", input_tokens=2**63 - 1, max_tokens=2**63 - 1, caching=True)
    assert 0 < big.reservation_amount_cents < 2**63
