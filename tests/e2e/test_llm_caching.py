"""Anthropic prompt caching through the gateway (official anthropic/openai SDKs against the server, a native
Anthropic deployment on tests/fake_anthropic.py, which enforces the cache_control contract): breakpoints on
system blocks, tools and messages reach the upstream where the client put them, with its anthropic-beta header;
cache writes and reads are reported on every surface and billed at their own prices; count_tokens asks the
upstream."""

from __future__ import annotations

import time

import anthropic
import httpx
import openai
import pytest

from runapi.llm.models import llm_models
from tests.support.fake_anthropic import CACHE_WRITE, USAGE, FakeAnthropic
from tests.support.fake_anthropic import COUNT_TOKENS as ANTHROPIC_COUNT
from tests.support.fake_gemini import COUNT_TOKENS as GEMINI_COUNT
from tests.support.fake_gemini import FakeGemini
from tests.support.servers import new_account, start_server

MODEL = "claude-sonnet-4-6"
BETA = "extended-cache-ttl-2025-04-11"
ONE_HOUR = {"type": "ephemeral", "ttl": "1h"}
TOOL = {
    "name": "get_weather",
    "description": "Weather",
    "cache_control": {"type": "ephemeral"},
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}
SYSTEM = [
    {"type": "text", "text": "You are a pirate."},
    {"type": "text", "text": "A long, stable instruction block. " * 20, "cache_control": ONE_HOUR},
]
MESSAGES = [{"role": "user", "content": [{"type": "text", "text": "Ahoy?", "cache_control": {"type": "ephemeral"}}]}]


@pytest.fixture(scope="module")
def fakes():
    made = {"anthropic": FakeAnthropic("anthropic"), "gemini": FakeGemini("gemini")}
    yield made
    for fake in made.values():
        fake.stop()


@pytest.fixture(scope="module")
def gw(fakes, tmp_path_factory):
    srv = start_server(
        tmp_path_factory.mktemp("caching"),
        llm_upstreams=[
            {
                "name": "anthropic",
                "protocol": "anthropic",
                "base_url": fakes["anthropic"].base_url,
                "api_key": "k",
                "models": [MODEL],
            },
            {
                "name": "gemini",
                "protocol": "gemini",
                "base_url": fakes["gemini"].base_url,
                "api_key": "g",
                "models": ["gemini-2.5-pro"],
            },
        ],
    )
    yield srv
    srv.stop()


def balance(gw, key) -> int:
    return httpx.get(gw.url + "/api/v1/me/balance", headers={"Authorization": f"Bearer {key}"}).json()["balance_cents"]


def settled(gw, key, expected) -> int:
    for _ in range(100):
        if (cents := balance(gw, key)) == expected:
            return cents
        time.sleep(0.05)
    return cents


def claude(gw, key) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=key, base_url=gw.url, max_retries=0, default_headers={"anthropic-beta": BETA})


def test_breakpoints_and_beta_reach_the_upstream(gw, fakes):
    _, key = new_account(gw)
    claude(gw, key).messages.create(model=MODEL, max_tokens=100, system=SYSTEM, tools=[TOOL], messages=MESSAGES)
    sent = fakes["anthropic"].requests[-1]
    body = sent["body"]
    assert sent["headers"].get("anthropic-beta") == BETA
    assert body["system"] == SYSTEM  # blocks as given, not flattened
    assert body["tools"][0]["cache_control"] == {"type": "ephemeral"}
    assert body["messages"][0]["content"] == MESSAGES[0]["content"]


@pytest.mark.parametrize("stream", [False, True])
def test_cache_usage_reported_and_billed(gw, stream):
    _, key = new_account(gw, credits=1000)
    c = claude(gw, key)
    kw = {"model": MODEL, "max_tokens": 100, "system": SYSTEM, "messages": MESSAGES}
    if stream:
        with c.messages.stream(**kw) as s:
            msg = s.get_final_message()
    else:
        msg = c.messages.create(**kw)
    u = msg.usage
    assert u.cache_creation_input_tokens == CACHE_WRITE
    assert u.cache_read_input_tokens == USAGE["cache_read_input_tokens"]
    assert u.input_tokens == USAGE["input_tokens"]
    assert u.cache_creation.ephemeral_1h_input_tokens == CACHE_WRITE
    assert u.cache_creation.ephemeral_5m_input_tokens == 0
    m = llm_models()[MODEL]
    assert m.cache_write_1h == 2 * m.input and m.cache_write_5m * 4 == 5 * m.input
    micro = (
        USAGE["input_tokens"] * m.input
        + USAGE["cache_read_input_tokens"] * m.cache_read
        + CACHE_WRITE * m.cache_write_1h
        + USAGE["output_tokens"] * m.output
    )
    assert settled(gw, key, 1000 - micro // 1_000_000) == 1000 - micro // 1_000_000


def test_five_minute_writes_at_their_price(gw):
    _, key = new_account(gw, credits=1000)
    msg = claude(gw, key).messages.create(model=MODEL, max_tokens=100, messages=MESSAGES)
    assert msg.usage.cache_creation.ephemeral_5m_input_tokens == CACHE_WRITE
    m = llm_models()[MODEL]
    micro = (
        USAGE["input_tokens"] * m.input
        + USAGE["cache_read_input_tokens"] * m.cache_read
        + CACHE_WRITE * m.cache_write_5m
        + USAGE["output_tokens"] * m.output
    )
    assert settled(gw, key, 1000 - micro // 1_000_000) == 1000 - micro // 1_000_000


def test_openai_surfaces_report_cached_tokens(gw):
    _, key = new_account(gw)
    client = openai.OpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=0)
    r = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert r.usage.prompt_tokens_details.cached_tokens == USAGE["cache_read_input_tokens"]
    assert r.usage.prompt_tokens == USAGE["input_tokens"] + USAGE["cache_read_input_tokens"]
    resp = client.responses.create(
        model=MODEL, input=[{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}]
    )
    assert resp.usage.input_tokens_details.cached_tokens == USAGE["cache_read_input_tokens"]


def test_bad_cache_control_is_refused_before_the_upstream(gw, fakes):
    _, key = new_account(gw)
    seen = len(fakes["anthropic"].requests)
    with pytest.raises(anthropic.BadRequestError) as err:
        claude(gw, key).messages.create(
            model=MODEL,
            max_tokens=100,
            messages=[
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "x", "cache_control": {"type": "ephemeral", "ttl": "2h"}}],
                }
            ],
        )
    assert "ttl" in str(err.value)
    assert len(fakes["anthropic"].requests) == seen


def test_count_tokens_asks_the_upstream(gw, fakes):
    _, key = new_account(gw)
    counted = claude(gw, key).messages.count_tokens(model=MODEL, system=SYSTEM, messages=MESSAGES, tools=[TOOL])
    assert counted.input_tokens == ANTHROPIC_COUNT
    sent = fakes["anthropic"].requests[-1]
    assert sent.get("count") and sent["body"]["system"] == SYSTEM
    r = httpx.post(
        gw.url + "/v1beta/models/gemini-2.5-pro:countTokens",
        headers={"x-goog-api-key": key},
        json={"contents": [{"role": "user", "parts": [{"text": "hello"}]}]},
    )
    assert r.status_code == 200 and r.json()["totalTokens"] == GEMINI_COUNT
