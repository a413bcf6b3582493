"""Luma's adapter without a socket: every request the table can make is one Luma's published schema accepts,
generation states and failure reasons are classified, webhooks become Luma's callback_url. Over HTTP (a local
fake): tests/e2e/test_upstream_luma.py."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from runapi.providers.base import TaskInput
from runapi.providers.upstream.adapter import Finished, Running, Started
from runapi.providers.upstream.config import MediaDeployment
from runapi.providers.upstream.errors import UpstreamError
from runapi.providers.upstream.luma import Luma, generation_failure
from runapi.providers.upstream.mapping import Context
from tests.support import upstream_contract
from tests.support.upstream_cases import StubInputs, cases, params_for, route_of, run_adapter, unknown_names

BASE = "https://up.example/v1"


def accepted(request: httpx.Request) -> httpx.Response:
    return httpx.Response(201, json={"id": "gen-1", "state": "queued"})


def test_table_names_real_actions_models_and_params():
    assert unknown_names(Luma.bundled()) == {}


def test_every_route_has_a_contract_and_a_request():
    table = Luma.bundled()
    endpoints = {r.app.rpartition("/")[0] for m in table.entries.values() for r in m.routes if r.refuse is None}
    assert endpoints == set(upstream_contract.schemas("luma"))
    reached = {(a.key, m, route_of(table, a, m, b).app) for a, m, b in cases(table, [])}
    assert {(k, m, r.app) for (k, m), mp in table.entries.items() for r in mp.routes} <= reached


@pytest.mark.parametrize("case", cases(Luma.bundled(), []), ids=lambda c: c[2]["prompt"][:20])
def test_every_request_is_one_luma_accepts(case):
    outcome, sent = run_adapter(Luma, *case, accepted)
    assert isinstance(outcome, Started) and outcome.handle["id"] == "gen-1"
    (call,) = sent
    assert call.url == f"{BASE}/generations/video/modify" and call.headers["authorization"] == "Bearer key-1"
    assert upstream_contract.problems("luma", "generations/video/modify", call.json) == []
    action, _, body = case
    assert call.json == {
        "generation_type": "modify_video",
        "prompt": body["prompt"],
        "media": {"url": body["source_video_url"]},
        "mode": "flex_1",
        "model": "ray-2",
    }  # neither our watermark nor our callback_url reach Luma


def test_model_map_picks_ray_flash_2():
    case = cases(Luma.bundled(), [])[0]
    _, sent = run_adapter(
        Luma,
        *case,
        accepted,
        model_map={"generations/video/modify/ray-2": "generations/video/modify/ray-flash-2"},
    )
    assert sent[0].json["model"] == "ray-flash-2"


def test_webhooks_give_luma_our_wake_up_link():
    action, model, body = cases(Luma.bundled(), [])[0]
    sent: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.read()))
        return accepted(request)

    async def go():
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            dep = MediaDeployment(name="l", kind="luma", base_url=BASE, api_key="k", webhooks=True)
            task = TaskInput(id="t", action=action, model=action.models[model], params=params_for(action, model, body))
            await Luma(dep, http, StubInputs()).start(task, Context(task.params, webhook_url="https://us/wake?s=1"))

    asyncio.run(go())
    assert sent[0]["callback_url"] == "https://us/wake?s=1"
    assert upstream_contract.problems("luma", "generations/video/modify", sent[0]) == []


def _check(body: dict | None, status: int = 200, headers: dict | None = None):
    return run_adapter(
        Luma,
        *cases(Luma.bundled(), [])[0],
        lambda r: httpx.Response(status, json=body, headers=headers or {}),
        step="check",
        handle={"id": "gen-1", "meta": {}},
    )


@pytest.mark.parametrize("state", ["queued", "dreaming"])
def test_running_states(state):
    outcome, sent = _check({"id": "gen-1", "state": state})
    assert isinstance(outcome, Running) and sent[0].url == f"{BASE}/generations/gen-1"


def test_completed_and_odd_answers():
    outcome, _ = _check({"state": "completed", "assets": {"video": "https://cdn/v.mp4"}})
    assert isinstance(outcome, Finished) and [(f.kind, f.url) for f in outcome.files] == [
        ("videos", "https://cdn/v.mp4")
    ]
    outcome, _ = _check({"state": "completed", "assets": None})
    assert isinstance(outcome, UpstreamError) and outcome.job_failed
    outcome, _ = _check({"state": "paused"})
    assert isinstance(outcome, UpstreamError) and "unknown state" in str(outcome)
    outcome, _ = _check({"detail": "slow down"}, status=429, headers={"Retry-After": "3"})
    assert isinstance(outcome, Running) and outcome.poll_in == 3.0


@pytest.mark.parametrize(
    "reason, final",
    [
        ("Prompt not allowed because advanced moderation failed", True),
        ("400: The image is inappropriate", True),
        ("Job failed", False),
        (None, False),
    ],
)
def test_failure_reasons_are_classified(reason, final):
    err = generation_failure({"state": "failed", "failure_reason": reason}, "luma")
    assert err.retryable is not final and err.job_failed is not final
    outcome, _ = _check({"state": "failed", "failure_reason": reason})
    assert isinstance(outcome, UpstreamError) and outcome.retryable is not final


def test_submission_errors_and_cancel():
    case = cases(Luma.bundled(), [])[0]
    outcome, _ = run_adapter(Luma, *case, lambda r: httpx.Response(400, json={"detail": "prompt is too long"}))
    assert isinstance(outcome, UpstreamError) and str(outcome) == "prompt is too long" and not outcome.retryable
    outcome, _ = run_adapter(Luma, *case, lambda r: httpx.Response(201, json={"state": "queued"}))
    assert isinstance(outcome, UpstreamError) and "generation id" in str(outcome)
    _, sent = run_adapter(Luma, *case, lambda r: httpx.Response(204), step="cancel", handle={"id": "gen-1"})
    assert [(s.method, s.url) for s in sent] == [("DELETE", f"{BASE}/generations/gen-1")]
