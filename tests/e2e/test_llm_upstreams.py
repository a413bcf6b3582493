"""LLM upstreams: OpenAI-compatible deployments per model, tried in order; fallback on 5xx/429/connection
errors, the upstream's own refusals passed through, full refunds when nothing answers, billing from the
upstream's usage (cached input at its own price), provider names for guardrails."""

import httpx
import openai
import pytest

from runapi.llm.models import llm_models
from tests.support.fake_openai import FakeOpenAI
from tests.support.metrics import scrape
from tests.support.servers import free_port, keys_under_guardrails, new_account, start_server


@pytest.fixture(scope="module")
def ups():
    primary, backup = FakeOpenAI("primary"), FakeOpenAI("backup")
    yield primary, backup
    primary.stop()
    backup.stop()


@pytest.fixture(scope="module")
def gw(ups, tmp_path_factory):
    primary, backup = ups
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    srv = start_server(
        tmp_path_factory.mktemp("llmup"),
        llm_upstreams=[
            {
                "name": "primary",
                "base_url": primary.base_url,
                "api_key": "sk-primary",
                "models": ["gpt-5.2"],
                "model_map": {"gpt-5.2": "gpt-5.2-2026-01-01"},
            },
            {"name": "backup", "base_url": backup.base_url, "models": ["gpt-5.2", "deepseek-v4-flash"]},
            {"name": "dead", "base_url": dead, "models": ["gpt-5.4"]},
        ],
    )
    yield srv
    srv.stop()


@pytest.fixture
def modes(ups):
    yield ups
    for u in ups:
        u.mode = "ok"


def client(key, gw):
    return openai.OpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=0)


def balance(gw, key):
    return httpx.get(gw.url + "/api/v1/me/balance", headers={"Authorization": f"Bearer {key}"}).json()["balance_cents"]


def test_routes_to_the_first_deployment_with_its_key_and_model_name(gw, modes):
    primary, _ = modes
    r = client(gw.key, gw).chat.completions.create(model="gpt-5.2", messages=[{"role": "user", "content": "hi"}])
    assert r.choices[0].message.content == "primary says: hi" and r.model == "gpt-5.2"
    assert primary.requests[-1]["auth"] == "Bearer sk-primary"
    assert primary.requests[-1]["body"]["model"] == "gpt-5.2-2026-01-01"


@pytest.mark.parametrize("failure", ["500", "429"])
def test_falls_back_on_errors_and_rate_limits(gw, modes, failure):
    primary, backup = modes
    primary.mode = failure
    before, metrics_before = len(backup.requests), scrape(gw)
    r = client(gw.key, gw).chat.completions.create(model="gpt-5.2", messages=[{"role": "user", "content": "hi"}])
    assert r.choices[0].message.content == "backup says: hi" and len(backup.requests) == before + 1
    after = scrape(gw)
    kind = {"500": "server_error", "429": "rate_limited"}[failure]
    assert (
        after.value("runapi_upstream_errors_total", provider="primary", kind=kind)
        == metrics_before.value("runapi_upstream_errors_total", provider="primary", kind=kind) + 1
    )
    billed = {
        k: after.value("runapi_llm_tokens_billed_total", model="gpt-5.2", kind=k)
        - metrics_before.value("runapi_llm_tokens_billed_total", model="gpt-5.2", kind=k)
        for k in ("input", "cached_input", "output")
    }
    cached = r.usage.prompt_tokens_details.cached_tokens
    assert billed == {
        "input": r.usage.prompt_tokens - cached,
        "cached_input": cached,
        "output": r.usage.completion_tokens,
    }
    # reserve and settle went through the ledger batcher
    assert after.value("runapi_ledger_batch_moves_sum") - metrics_before.value("runapi_ledger_batch_moves_sum") == 2


def test_streaming_falls_back_before_the_first_byte(gw, modes):
    primary, _ = modes
    primary.mode = "500"
    chunks = list(
        client(gw.key, gw).chat.completions.create(
            model="gpt-5.2", stream=True, messages=[{"role": "user", "content": "stream me"}]
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).strip() == "backup says: stream me"


def test_nothing_answers_502_and_a_full_refund(gw, modes):
    primary, backup = modes
    primary.mode = backup.mode = "500"
    _, key = new_account(gw, credits=500)
    with pytest.raises(openai.APIStatusError) as info:
        client(key, gw).chat.completions.create(model="gpt-5.2", messages=[{"role": "user", "content": "x"}])
    assert info.value.status_code == 502 and "Upstream error" in info.value.message
    with pytest.raises(openai.APIStatusError):  # a dead host (connection refused) is an upstream error too
        client(key, gw).chat.completions.create(model="gpt-5.4", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.APIStatusError):
        list(
            client(key, gw).chat.completions.create(
                model="gpt-5.2", stream=True, messages=[{"role": "user", "content": "x"}]
            )
        )
    assert balance(gw, key) == 500


def test_upstream_refusals_keep_their_message_and_refund(gw, modes):
    primary, backup = modes
    primary.mode = "400"
    before = len(backup.requests)
    _, key = new_account(gw, credits=500)
    with pytest.raises(openai.BadRequestError) as info:
        client(key, gw).chat.completions.create(model="gpt-5.2", messages=[{"role": "user", "content": "x"}])
    assert "rejected by the safety system" in info.value.message
    assert len(backup.requests) == before  # a refusal is not retried elsewhere
    assert balance(gw, key) == 500


def test_tool_calls_pass_through(gw, modes):
    tools = [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}]
    r = client(gw.key, gw).chat.completions.create(
        model="gpt-5.2", tools=tools, messages=[{"role": "user", "content": "weather?"}]
    )
    assert r.choices[0].message.tool_calls[0].function.name == "weather"


def test_billing_uses_upstream_usage_with_cached_input(gw, modes):
    _, key = new_account(gw, credits=1000)
    c = client(key, gw)
    for _ in range(3):
        r = c.chat.completions.create(model="deepseek-v4-flash", messages=[{"role": "user", "content": "x"}])
        assert r.usage.prompt_tokens == 1000 and r.usage.prompt_tokens_details.cached_tokens == 600
    m = llm_models()["deepseek-v4-flash"]
    per_call = 400 * m.input + 600 * m.cache_read + 200 * m.output
    assert balance(gw, key) == 1000 - (3 * per_call) // 1_000_000


def test_guardrails_steer_routing_and_fallback_by_provider_name(gw, modes):
    primary, backup = modes
    keys = keys_under_guardrails(
        gw, {"no primary": {"blocked_providers": ["primary"]}, "only primary": {"allowed_providers": ["primary"]}}
    )
    hello = [{"role": "user", "content": "x"}]
    # The blocked primary is passed over: the backup serves gpt-5.2 for this key.
    before = len(primary.requests)
    r = client(keys["no primary"], gw).chat.completions.create(model="gpt-5.2", messages=hello)
    assert r.choices[0].message.content == "backup says: x" and len(primary.requests) == before
    # ...and when the backup fails, the request fails rather than falling back to the blocked primary.
    backup.mode = "500"
    with pytest.raises(openai.APIStatusError) as failed:
        client(keys["no primary"], gw).chat.completions.create(model="gpt-5.2", messages=hello)
    assert failed.value.status_code == 502 and len(primary.requests) == before
    backup.mode = "ok"
    # Only primary allowed: deepseek-v4-flash is served by backup alone, so it is refused (never the sandbox).
    with pytest.raises(openai.PermissionDeniedError):
        client(keys["only primary"], gw).chat.completions.create(model="deepseek-v4-flash", messages=hello)
    # gpt-5.5 has no deployment, and with upstreams configured the sandbox does not stand in (503)
    with pytest.raises(openai.InternalServerError) as refused:
        client(keys["only primary"], gw).chat.completions.create(model="gpt-5.5", messages=hello)
    assert refused.value.status_code == 503


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the server thread's raise
def test_a_bad_upstream_setting_stops_the_start_not_the_first_call(tmp_path):
    with pytest.raises(RuntimeError, match="did not start"):
        start_server(tmp_path, llm_upstreams=[{"name": "x", "base_url": "http://127.0.0.1:9/v1", "protocol": "grpc"}])
