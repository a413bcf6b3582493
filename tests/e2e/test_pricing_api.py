"""GET /api/v1/price_schedules and POST /api/v1/price_quotes over HTTP, and through the platform's own Python SDK
(runapi.core.pricing, unchanged but for base_url): the schedules parse, a quote is what the create then reserves,
and a quote reserves nothing."""

from __future__ import annotations

import httpx
import pytest

from tests.support.servers import new_account, wait_done

core = pytest.importorskip("runapi.core")
from runapi.core import errors  # noqa: E402
from runapi.core.options import RequestOptions  # noqa: E402
from runapi.core.pricing import PriceQuoteResponse, PriceScheduleListResponse, PricingClient  # noqa: E402

VEO = {"model": "veo-3.1-fast", "prompt": "a calm lake", "duration_seconds": 4}


def balance(client: httpx.Client) -> int:
    cents: int = client.get("/api/v1/me/balance").json()["balance_cents"]
    return cents


def test_schedules_are_public_and_revalidate_with_their_etag(server):
    resp = httpx.get(f"{server.url}/api/v1/price_schedules", params={"service": "nano-banana"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert {s["service"] for s in body["price_schedules"]} == {"nano_banana"}
    pro = next(s for s in body["price_schedules"] if s["model"] == "nano-banana-pro")
    assert (pro["unit_price_cents"], pro["billing_config"]) == (12, {"tiers": {"output_resolution": {"4k": 24}}})
    etag = resp.headers["etag"]
    again = httpx.get(
        f"{server.url}/api/v1/price_schedules", params={"service": "nano_banana"}, headers={"If-None-Match": etag}
    )
    assert again.status_code == 304 and again.headers["etag"] == etag and again.content == b""
    other = httpx.get(f"{server.url}/api/v1/price_schedules", headers={"If-None-Match": etag})
    assert other.status_code == 200 and other.headers["etag"] != etag


def test_llm_schedules_over_http(server):
    resp = httpx.get(f"{server.url}/api/v1/price_schedules", params={"service": "llm", "model": "claude-sonnet-4-6"})
    (sonnet,) = resp.json()["price_schedules"]
    assert sonnet["action"] == "chat" and sonnet["billing_strategy"] == "per_token"
    assert (sonnet["cache_read_price_per_1m_cents"], sonnet["cache_write_1h_price_per_1m_cents"]) == (30, 600)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"service": "nope"}, "Invalid value for service: 'nope'"),
        ({"service": "suno", "action": "nope"}, "Invalid value for action: 'nope'"),
        ({"service": "suno", "action": "text_to_music", "model": "x"}, "Invalid value for model: 'x'"),
    ],
)
def test_schedule_filters_naming_nothing_are_422(server, query, message):
    resp = httpx.get(f"{server.url}/api/v1/price_schedules", params=query)
    assert resp.status_code == 422 and resp.json()["error"].startswith(message)


def test_a_create_after_a_quote_reserves_exactly_the_quote(server):
    _, key = new_account(server, credits=10_000)
    with server.client(key) as client:
        resp = client.post(
            "/api/v1/price_quotes", json={"service": "veo-3-1", "action": "text_to_video", "params": VEO}
        )
        assert resp.status_code == 200, resp.text
        quoted = resp.json()["price_quote"]
        assert (quoted["service"], quoted["model"], quoted["estimate_basis"]) == ("veo_3_1", "veo-3.1-fast", "exact")
        assert quoted["reservation_amount_cents"] == 15 * 4
        assert balance(client) == 10_000  # the quote held nothing
        created = client.post("/api/v1/veo_3_1/text_to_video", json=VEO)
        assert created.status_code == 202, created.text
        assert balance(client) == 10_000 - quoted["reservation_amount_cents"]  # reserved at once
        assert wait_done(client, "/api/v1/veo_3_1/text_to_video", created.json()["id"])["status"] == "completed"
        assert balance(client) == 10_000 - quoted["reservation_amount_cents"]  # and charged that


def test_quote_refusals_over_http(server):
    with server.client() as client:
        missing = client.post("/api/v1/price_quotes", json={"action": "text_to_image"})
        assert (missing.status_code, missing.json()) == (400, {"error": "Missing required parameter: service"})
        invalid = client.post(
            "/api/v1/price_quotes",
            json={"service": "nano_banana", "action": "text_to_image", "params": {"model": "nano-banana", "prompt": 5}},
        )
        assert (invalid.status_code, invalid.json()) == (422, {"error": "Invalid type for prompt: expected a string"})
        no_prompt = client.post(
            "/api/v1/price_quotes", json={"service": "nano_banana", "action": "text_to_image", "model": "nano-banana"}
        )
        assert (no_prompt.status_code, no_prompt.json()) == (400, {"error": "Missing required parameter: prompt"})
        assert client.post("/api/v1/price_quotes", content=b"{").status_code == 400
        assert client.post("/api/v1/price_quotes", json=[1]).status_code == 400
    anonymous = httpx.post(f"{server.url}/api/v1/price_quotes", json={"service": "suno", "action": "convert_audio"})
    assert (anonymous.status_code, anonymous.json()) == (401, {"error": "Unauthorized"})


def test_sdk_lists_schedules_without_a_key(server, monkeypatch):
    monkeypatch.delenv("RUNAPI_API_KEY", raising=False)
    pricing = PricingClient(base_url=server.url, max_retries=0)
    listed = pricing.list_schedules(service="kling", action="text_to_video", model="kling-3.0")
    assert isinstance(listed, PriceScheduleListResponse) and listed.as_of
    (kling,) = listed.price_schedules
    assert (kling.service, kling.action, kling.model, kling.billing_unit) == (
        "kling",
        "text_to_video",
        "kling-3.0",
        "per_second",
    )
    assert kling.unit_price_cents == 10 and kling.billing_config.quantity_param == "duration_seconds"
    everything = pricing.list_schedules()
    assert len(everything.price_schedules) > 100
    opus = next(s for s in everything.price_schedules if s.model == "claude-opus-4-6")
    assert (opus.input_price_per_1m_cents, opus.cache_write_5m_price_per_1m_cents) == (500, 625)
    # a copy still current: the SDK's revalidation answers None (304)
    etag = httpx.get(f"{server.url}/api/v1/price_schedules", params={"service": "kling"}).headers["etag"]
    assert pricing.list_schedules(service="kling", options=RequestOptions(headers={"If-None-Match": etag})) is None
    with pytest.raises(errors.ValidationError) as info:
        pricing.list_schedules(service="no-such-service")
    assert info.value.status == 422 and "service" in info.value.message


def test_sdk_quotes_what_the_create_reserves(server):
    _, key = new_account(server, credits=5_000)
    pricing = PricingClient(api_key=key, base_url=server.url, max_retries=0)
    params = {"prompt": "x", "output_resolution": "4k"}
    quoted = pricing.create_quote(service="nano_banana", action="text_to_image", model="nano-banana-pro", params=params)
    assert isinstance(quoted, PriceQuoteResponse)
    assert (quoted.price_quote.reservation_amount_cents, quoted.price_quote.model) == (24, "nano-banana-pro")
    assert quoted.price_quote.as_of == pricing.list_schedules(service="nano_banana").as_of
    llm = pricing.create_quote(service="llm", action="chat", model="gpt-5.2", params={"input_tokens": 1_000_000})
    assert (
        llm.price_quote.estimate_basis == "maximum" and llm.price_quote.reservation_amount_cents == 304
    )  # 1M input + the 128k output cap
    with server.client(key) as client:
        assert balance(client) == 5_000
        created = client.post("/api/v1/nano_banana/text_to_image", json={"model": "nano-banana-pro", **params})
        assert created.status_code == 202, created.text
        assert balance(client) == 5_000 - 24
    with pytest.raises(errors.ValidationError) as info:
        pricing.create_quote(service="nano_banana", action="text_to_image", model="nano-banana", params={"prompt": ""})
    assert info.value.status == 400 and info.value.message == "Missing required parameter: prompt"
    anonymous = PricingClient(api_key="rk-wrong-key-000000000", base_url=server.url, max_retries=0)
    with pytest.raises(errors.AuthenticationError):
        anonymous.create_quote(service="suno", action="convert_audio")
