"""Property-based fuzzing of the whole HTTP API from its own /openapi.json (schemathesis).

Every operation the live server documents is called with generated requests, valid (positive) and invalid
(negative), authenticated with a real key: a management key for the keys, members and guardrails APIs, an API
key for everything else. Checks: no 5xx for any input, and every answer whose status and media type the document
declares matches the declared schema.

Bounded and repeatable: a fixed seed, derandomized generation, no example database, no shrinking, and
FUZZ_MAX_EXAMPLES generated cases per operation (RUNAPI_FUZZ_MAX_EXAMPLES overrides it; the default 40 runs
in about a minute on two cores). RUNAPI_FUZZ_COVERAGE=1 adds schemathesis' coverage phase (a boundary-value
sweep per operation, about half as long again). The server runs without workers, so no task is ever
executed: this fuzzes the API layer, not media generation."""

from __future__ import annotations

import os
from dataclasses import dataclass

import httpx
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from runapi.api import media, openapi
from runapi.api.suno_resources import SURFACES
from runapi.auth import admin
from runapi.catalog import get_catalog
from runapi.tasks.surfaces import Answer
from tests.support.servers import new_account, start_server

FUZZ_MAX_EXAMPLES = int(os.environ.get("RUNAPI_FUZZ_MAX_EXAMPLES", "40"))
FUZZ_SEED = 20260107
MANAGEMENT_TAGS = {"keys", "members", "guardrails"}
# Synchronous actions (and the Suno resources that answer as they do) wait for their task; with no workers they
# answer their documented "try again" 503.
SYNC_PATHS = {action.path for action in get_catalog().actions() if action.sync} | {
    surface.path for surface in SURFACES if surface.answer is Answer.SYNC
}
SYNC_WAIT_SECONDS = 0.05
# OpenAI's synchronous media endpoints likewise answer their documented 504 (not retried) past their wait.
OPENAI_SYNC_PATHS = {"/v1/images/generations", "/v1/images/edits", "/v1/audio/speech", "/v1/audio/transcriptions"}
# Mixed into generated values: inputs that random text rarely hits but parsers trip on (non-ASCII digits pass
# str.isdigit(), unclosed IPv6 brackets, control characters, path tricks, integers past 64 bits).
TRICKY_STRINGS = [
    "²",
    "١٢٣",
    "http://[",
    "https://[::1",
    "https://exa mple.com/\u0000",
    "\u0000",
    "../../x",
    "%00",
    "",
    " ",
    "-1",
    "9" * 40,
    "1e309",
    "NaN",
    "data:image/png;base64,@@",
    "file:///etc/passwd",
]
TRICKY_INTEGERS = [0, -1, 2**31, 2**63, -(2**63) - 1, 10**30]


@dataclass
class Keys:
    api: str
    management: str


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    saved = media.SYNC_TIMEOUT_SECONDS
    media.SYNC_TIMEOUT_SECONDS = SYNC_WAIT_SECONDS
    srv = start_server(
        tmp_path_factory.mktemp("fuzz"),
        run_workers=False,
        access_log=False,
        openai_media_wait_seconds=SYNC_WAIT_SECONDS,
    )
    yield srv
    srv.stop()
    media.SYNC_TIMEOUT_SECONDS = saved


@pytest.fixture(scope="module")
def keys(fuzz_server) -> Keys:
    account_id, api_key = new_account(fuzz_server, credits=100_000_000)

    async def management(db):
        return (await admin.mint_key(db, account_id, "management", name="fuzz")).token

    return Keys(api=api_key, management=fuzz_server.db_call(management))


def load_schema() -> schemathesis.BaseSchema:
    """The document the server serves at /openapi.json (built from the same code; the live copy is checked
    against it below), loaded at collection time so each operation becomes its own test."""
    config = schemathesis.Config.from_dict(
        {
            "seed": FUZZ_SEED,
            "dictionaries": {
                "tricky-strings": {"values": TRICKY_STRINGS},
                "tricky-integers": {"values": TRICKY_INTEGERS},
            },
            "generation": {
                "mode": "all",
                "max-examples": FUZZ_MAX_EXAMPLES,
                "deterministic": True,
                "no-shrink": True,
                "dictionaries": {
                    "string": {"dictionary": "tricky-strings", "probability": 0.15},
                    "integer": {"dictionary": "tricky-integers", "probability": 0.1},
                },
            },
            "phases": {
                "coverage": {"enabled": os.environ.get("RUNAPI_FUZZ_COVERAGE") == "1"}
            },  # its boundary sweep is unbounded per operation
        }
    )
    return schemathesis.openapi.from_dict(openapi.document(), config=config)


schema = load_schema()


def test_the_live_document_is_the_one_fuzzed(fuzz_server):
    assert httpx.get(f"{fuzz_server.url}/openapi.json").json() == openapi.document()


def no_server_error(ctx, response, case):
    """not_a_server_error, except the documented 503 of a synchronous action that did not finish in time (504
    on OpenAI's synchronous media endpoints)."""
    if case.operation.path in SYNC_PATHS and response.status_code == 503 and "retry-after" in response.headers:
        return None
    if case.operation.path in OPENAI_SYNC_PATHS and response.status_code == 504:
        if response.headers.get("x-should-retry") in (["false"], "false"):  # (schemathesis lists header values)
            return None
    return not_a_server_error(ctx, response, case)


@schema.parametrize()
def test_api_never_answers_5xx_and_matches_its_schema(case, fuzz_server, keys):
    key = keys.management if MANAGEMENT_TAGS & set(case.operation.tags or ()) else keys.api
    case.call_and_validate(
        base_url=fuzz_server.url,
        headers={"Authorization": f"Bearer {key}"},
        checks=[no_server_error, response_schema_conformance],
    )


CHAT = {"model": "gpt-5.2", "messages": [{"role": "user", "content": "hi"}]}
GEMINI_TOOL_SCHEMA = {"type": "OBJECT", "properties": {"a": {"type": "ARRAY", "minItems": "²"}}}


@pytest.mark.parametrize(
    ("method", "path", "request_kwargs"),
    [
        # each of these answered 500 once (found by this fuzzer or while extending it)
        ("PUT", "/uploads/file_x?expires=%C2%B2&signature=a", {"content": b"x"}),
        ("GET", "/files/a.png?expires=%C2%B2&signature=a", {}),
        ("POST", "/api/v1/files", {"json": {"source": {"type": "url", "url": "https://exa mple.com/\x00"}}}),
        (
            "POST",
            "/api/v1/nano_banana/text_to_image",
            {"json": {"model": "nano-banana", "prompt": "x", "callback_url": "http://["}},
        ),
        ("POST", "/v1/chat/completions", {"json": {**CHAT, "tools": [{"type": "function", "function": {}}]}}),
        (
            "POST",
            "/v1/chat/completions",
            {"json": {**CHAT, "tools": [{"type": "function", "function": {"name": "f", "parameters": [1]}}]}},
        ),
        (
            "POST",
            "/v1/chat/completions",
            {
                "json": {
                    **CHAT,
                    "tools": [{"type": "function", "function": {"name": "f"}}],
                    "tool_choice": {"function": 5},
                }
            },
        ),
        ("POST", "/v1/chat/completions", {"json": {**CHAT, "stream": True, "stream_options": 5}}),
        (
            "POST",
            "/v1beta/models/gemini-2.5-flash:generateContent",
            {
                "json": {
                    "contents": [{"parts": [{"text": "x"}]}],
                    "tools": [{"functionDeclarations": [{"name": "f", "parameters": GEMINI_TOOL_SCHEMA}]}],
                }
            },
        ),
    ],
)
def test_inputs_that_once_answered_500(fuzz_server, keys, method, path, request_kwargs):
    with fuzz_server.client(keys.api) as client:
        resp = client.request(method, path, **request_kwargs)
    assert resp.status_code < 500, resp.text


def test_unrouted_paths_answer_in_their_surfaces_error_shape(fuzz_server, keys):
    """A model name no route matches (a newline in it) is still a Gemini 404, not the generic shape."""
    with fuzz_server.client(keys.api) as client:
        gemini = client.post("/v1beta/models/a%0Ab:generateContent", json={})
        generic = client.get("/no/such/route")
    assert gemini.status_code == 404 and gemini.json()["error"]["status"] == "NOT_FOUND"
    assert generic.status_code == 404 and generic.json() == {"error": "Not found"}
