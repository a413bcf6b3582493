"""The operator's view of the media upstreams over HTTP: GET /api/v1/admin/providers (operator's management
key only) shows each deployment's recent calls, error rate and latency after real tasks ran against local fal
fakes, /metrics carries the same calls, `runapi providers --health` prints it, and a deployment's api_key given
as env:NAME reaches the upstream resolved (and is shown nowhere)."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from runapi.auth import admin, passwords
from runapi.cli import main
from tests.support.fake_media import FakeFal
from tests.support.servers import new_account, start_server, wait_done

KEY_VARIABLE, KEY = "TEST_E2E_HEALTH_FAL_KEY", "fal-id:health-secret"
PATH = "/api/v1/admin/providers"
Z_IMAGE = {"model": "z-image", "prompt": "a lighthouse", "aspect_ratio": "1:1"}


@pytest.fixture(scope="module")
def fals():
    down, up = FakeFal("down"), FakeFal("up")
    down.mode = "500"
    yield down, up
    down.stop()
    up.stop()


@pytest.fixture(scope="module")
def srv(fals, tmp_path_factory):
    down, up = fals
    saved = os.environ.get(KEY_VARIABLE)
    os.environ[KEY_VARIABLE] = KEY
    server = start_server(
        tmp_path_factory.mktemp("health"),
        media_upstreams=[
            {"name": "health-down", "kind": "fal", "base_url": down.url, "api_key": "k-down", "models": ["z-image"]},
            {
                "name": "health-up",
                "kind": "fal",
                "base_url": up.url,
                "api_key": f"env:{KEY_VARIABLE}",
                "poll_seconds": 0.05,
            },
        ],
    )
    yield server
    server.stop()
    if saved is None:
        os.environ.pop(KEY_VARIABLE, None)
    else:
        os.environ[KEY_VARIABLE] = saved


@pytest.fixture(scope="module")
def operator_key(srv) -> str:
    async def go(db):
        await passwords.set_password(db, srv.settings.bootstrap_email, "a long operator password", operator=True)
        return (await admin.mint_key(db, 1, "management")).token

    return srv.db_call(go)


@pytest.fixture(scope="module")
def ran(srv) -> None:
    """One z-image task: health-down answers 503 at submission, health-up takes it and completes it."""
    with srv.client() as c:
        created = c.post("/api/v1/z_image/text_to_image", json=Z_IMAGE)
        assert created.status_code == 202, created.text
        body = wait_done(c, "/api/v1/z_image/text_to_image", created.json()["id"])
        assert body["status"] == "completed", body


def test_the_operator_sees_each_deployments_health_and_coverage(srv, operator_key, ran, fals):
    with srv.client(operator_key) as c:
        answer = c.get(PATH)
    assert answer.status_code == 200, answer.text
    assert KEY not in answer.text and "k-down" not in answer.text and fals[0].url not in answer.text
    body = answer.json()
    by_name = {d["name"]: d for d in body["deployments"]}
    assert list(by_name) == ["health-down", "health-up"]
    down, up = by_name["health-down"]["health"], by_name["health-up"]["health"]
    assert down["outcomes"] == {"server_error": 1} and down["error_rate"] == 1.0 and down["last_error"]
    assert up["errors"] == 0 and up["error_rate"] == 0.0 and up["outcomes"]["ok"] >= 2  # submit + checks
    assert up["latency_p50_seconds"] is not None and up["in_flight"] == 0 and up["cooling_seconds"] == 0
    pairs = {(p["family"], p["action"], p["model"]): p for p in body["coverage"]["pairs"]}
    assert pairs[("z_image", "text_to_image", "z-image")]["configured"] == ["health-down", "health-up"]
    assert body["coverage"]["summary"]["pairs"] == len(pairs)


def test_the_resolved_env_key_reached_the_upstream(fals, ran):
    submits = fals[1].calls("POST")
    assert submits and all(r["headers"]["authorization"] == f"Key {KEY}" for r in submits)


def test_metrics_count_the_calls(srv, ran):
    # (servers run in the test process and share its metrics registry: these deployment names are this file's own)
    with srv.client() as c:
        text = c.get("/metrics").text
    assert 'runapi_upstream_calls_total{deployment="health-down",outcome="server_error"} 1.0' in text
    assert 'runapi_upstream_calls_total{deployment="health-up",outcome="ok"}' in text
    assert 'runapi_upstream_call_duration_seconds_count{deployment="health-up"}' in text


def test_only_the_operators_management_key_is_let_in(srv, operator_key):
    other_account, other_api_key = new_account(srv)
    operators_api_key = srv.db_call(lambda db: admin.mint_key(db, 1, "api")).token
    with srv.client(other_api_key) as c:
        assert c.get(PATH).status_code == 403  # an API key
    with srv.client(operators_api_key) as c:
        assert c.get(PATH).status_code == 403  # the operator's account, but an API key
    not_operator = srv.db_call(lambda db: admin.mint_key(db, other_account, "management")).token
    with srv.client(not_operator) as c:
        refused = c.get(PATH)
    assert refused.status_code == 403 and "operator" in refused.json()["error"]
    with srv.client("rk-nobody") as c:
        assert c.get(PATH).status_code == 401


def test_runapi_providers_health_prints_the_table(srv, operator_key, ran, monkeypatch):
    monkeypatch.setenv("RUNAPI_BASE_URL", srv.url)
    monkeypatch.setenv("RUNAPI_API_KEY", operator_key)
    result = CliRunner().invoke(main, ["providers", "--health"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["DEPLOYMENT", "KIND", "CALLS"]
    down = next(line for line in lines if line.startswith("health-down"))
    assert down.split()[1:4] == ["fal", "1", "100%"]
    assert KEY not in result.output
    monkeypatch.setenv("RUNAPI_API_KEY", srv.key)  # not a management key
    refused = CliRunner().invoke(main, ["providers", "--health"])
    assert refused.exit_code == 1 and "HTTP 403" in refused.output


def test_the_openapi_document_lists_the_endpoint(srv):
    with srv.client() as c:
        doc = c.get("/openapi.json").json()
    assert set(doc["paths"][PATH]["get"]["responses"]) == {"200", "401", "403"}
