"""The sandbox LLM is the embedded default, never a silent stand-in: once a real upstream is configured, a model
none serves answers 503 on every surface (nothing billed) unless RUNAPI_SANDBOX_FALLBACK is set; the sandbox's
answers are marked (X-RunAPI-Provider: sandbox, system_fingerprint "runapi-sandbox"); it honours n and
response_format json_object. Official openai/anthropic SDKs against the server."""

from __future__ import annotations

import json

import anthropic
import httpx
import openai
import pytest

from tests.support.fake_openai import FakeOpenAI
from tests.support.servers import new_account, start_server

HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture(scope="module")
def fake():
    f = FakeOpenAI("real")
    yield f
    f.stop()


def _server(tmp_path_factory, fake, **kw):
    return start_server(
        tmp_path_factory.mktemp("fallback"),
        llm_upstreams=[{"name": "real", "base_url": fake.base_url, "models": ["gpt-5.4"]}],
        **kw,
    )


@pytest.fixture(scope="module")
def strict(fake, tmp_path_factory):
    srv = _server(tmp_path_factory, fake)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def lenient(fake, tmp_path_factory):
    srv = _server(tmp_path_factory, fake, sandbox_fallback=True)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("embedded"))
    yield srv
    srv.stop()


def balance(gw, key) -> int:
    return httpx.get(gw.url + "/api/v1/me/balance", headers={"Authorization": f"Bearer {key}"}).json()["balance_cents"]


def test_unserved_model_is_refused_on_every_surface(strict):
    _, key = new_account(strict, credits=1000)
    oai = openai.OpenAI(api_key=key, base_url=strict.url + "/v1", max_retries=0)
    with pytest.raises(openai.InternalServerError) as err:
        oai.chat.completions.create(model="gpt-5.5", messages=HELLO)
    assert err.value.status_code == 503 and "RUNAPI_SANDBOX_FALLBACK" in str(err.value)
    with pytest.raises(openai.InternalServerError):
        oai.embeddings.create(model="text-embedding-3-small", input="x")
    with pytest.raises(anthropic.InternalServerError) as aerr:
        anthropic.Anthropic(api_key=key, base_url=strict.url, max_retries=0).messages.create(
            model="claude-opus-4-6", max_tokens=50, messages=HELLO
        )
    assert aerr.value.status_code == 503 and aerr.value.body["type"] == "error"
    r = httpx.post(
        strict.url + "/v1beta/models/gemini-2.5-pro:generateContent",
        headers={"x-goog-api-key": key},
        json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
    )
    assert r.status_code == 503 and r.json()["error"]["code"] == 503
    assert balance(strict, key) == 1000  # nothing reserved, nothing billed
    served = oai.chat.completions.with_raw_response.create(model="gpt-5.4", messages=HELLO)
    assert "x-runapi-provider" not in served.headers and served.parse().system_fingerprint != "runapi-sandbox"


def test_fallback_answers_marked(lenient):
    _, key = new_account(lenient)
    oai = openai.OpenAI(api_key=key, base_url=lenient.url + "/v1", max_retries=0)
    raw = oai.chat.completions.with_raw_response.create(model="gpt-5.5", messages=HELLO)
    assert raw.headers["x-runapi-provider"] == "sandbox"
    assert raw.parse().system_fingerprint == "runapi-sandbox"
    msg = anthropic.Anthropic(api_key=key, base_url=lenient.url, max_retries=0).messages.with_raw_response.create(
        model="claude-opus-4-6", max_tokens=50, messages=HELLO
    )
    assert msg.headers["x-runapi-provider"] == "sandbox"


def test_embedded_sandbox_is_marked_and_honours_n_and_json(embedded):
    _, key = new_account(embedded)
    oai = openai.OpenAI(api_key=key, base_url=embedded.url + "/v1", max_retries=0)
    raw = oai.chat.completions.with_raw_response.create(model="gpt-5.4", messages=HELLO, n=3)
    assert raw.headers["x-runapi-provider"] == "sandbox"
    r = raw.parse()
    assert r.system_fingerprint == "runapi-sandbox"
    assert [c.index for c in r.choices] == [0, 1, 2]
    assert len({c.message.content for c in r.choices}) == 3
    as_json = oai.chat.completions.create(model="gpt-5.4", messages=HELLO, response_format={"type": "json_object"})
    assert isinstance(json.loads(as_json.choices[0].message.content), dict)
    texts: dict[int, str] = {}
    for chunk in oai.chat.completions.create(model="gpt-5.4", messages=HELLO, n=2, stream=True):
        assert chunk.system_fingerprint == "runapi-sandbox"
        for c in chunk.choices:
            texts[c.index] = texts.get(c.index, "") + (c.delta.content or "")
    assert sorted(texts) == [0, 1] and texts[0] != texts[1]
    with pytest.raises(openai.BadRequestError):
        oai.chat.completions.create(model="gpt-5.4", messages=HELLO, n=0)
