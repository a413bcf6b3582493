"""GET /metrics after real traffic: HTTP counters and latency histograms by route template, task counters and
database gauges, callback outcomes, upstream errors and LLM tokens; the optional bearer token; and the
readiness probe answering 503 when the database or the storage does not.

Metrics are process-wide and every test module's server lives in this process, so the assertions compare
a scrape before with a scrape after."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import httpx
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from runapi.observability import record_llm_tokens, record_upstream_error
from tests.support.metrics import Scrape, scrape
from tests.support.servers import start_server, wait_done, wait_for

T2I = "/api/v1/nano_banana/text_to_image"
EDIT = "/api/v1/nano_banana/edit_image"
METRICS_TOKEN = "scrape-secret"


def test_http_requests_are_counted_by_route_template_with_latency(server, api):
    before = scrape(server)
    first = api.post(T2I, json={"model": "nano-banana", "prompt": "a lighthouse"}).json()["id"]
    second = api.post(T2I, json={"model": "nano-banana", "prompt": "a harbour"}).json()["id"]
    api.get(f"{T2I}/{first}")
    api.get(f"{T2I}/{second}")
    api.get("/no/such/path/12345")
    api.get("/another/unknown")
    after = scrape(server)

    created = {"method": "POST", "route": T2I, "status": "202"}
    assert (
        after.value("runapi_http_requests_total", **created) - before.value("runapi_http_requests_total", **created)
        == 2
    )
    # two different task ids, one series: the template, not the raw path
    status_route = {"method": "GET", "route": T2I + "/{task_id}", "status": "200"}
    assert (
        after.value("runapi_http_requests_total", **status_route)
        - before.value("runapi_http_requests_total", **status_route)
        == 2
    )
    assert not after.has("runapi_http_requests_total", route=f"{T2I}/{first}")
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert (
        after.value("runapi_http_requests_total", **unmatched) - before.value("runapi_http_requests_total", **unmatched)
        == 2
    )
    assert not after.has("runapi_http_requests_total", route="/no/such/path/12345")

    hist = {"method": "POST", "route": T2I}
    assert (
        after.value("runapi_http_request_duration_seconds_count", **hist)
        - before.value("runapi_http_request_duration_seconds_count", **hist)
        == 2
    )
    assert after.value("runapi_http_request_duration_seconds_sum", **hist) > before.value(
        "runapi_http_request_duration_seconds_sum", **hist
    )
    # cumulative buckets: +Inf holds every observation
    assert after.value("runapi_http_request_duration_seconds_bucket", le="+Inf", **hist) == after.value(
        "runapi_http_request_duration_seconds_count", **hist
    )


def test_llm_gateway_requests_are_measured(server, api):
    before = scrape(server)
    resp = api.post("/v1/chat/completions", json={"model": "gpt-5.2", "messages": [{"role": "user", "content": "hi"}]})
    assert resp.status_code == 200, resp.text
    after = scrape(server)
    labels = {"method": "POST", "route": "/v1/chat/completions", "status": "200"}
    assert (
        after.value("runapi_http_requests_total", **labels) - before.value("runapi_http_requests_total", **labels) == 1
    )


def test_task_outcomes_are_counted_by_family(server, api, recorder):
    before = scrape(server)
    done = wait_done(api, T2I, api.post(T2I, json={"model": "nano-banana", "prompt": "x"}).json()["id"])
    assert done["status"] == "completed"
    missing = recorder(lambda m, p, h, b: (404, {}, b"missing"))
    failed_id = api.post(
        EDIT, json={"model": "nano-banana-edit", "prompt": "x", "source_image_urls": [f"{missing.url}/x.png"]}
    ).json()["id"]
    assert wait_done(api, EDIT, failed_id)["status"] == "failed"
    after = scrape(server)

    def delta(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    assert delta("runapi_tasks_created_total", family="nano_banana") == 2
    assert delta("runapi_tasks_finished_total", family="nano_banana", outcome="completed") == 1
    assert delta("runapi_tasks_finished_total", family="nano_banana", outcome="failed") == 1


def test_callback_outcomes(server, api, recorder):
    answers = iter([500, 200])
    flaky = recorder(lambda m, p, h, b: (next(answers, 200), {}, b""))
    down = recorder(lambda m, p, h, b: (503, {}, b""))
    before = scrape(server)
    for receiver in (flaky, down):
        api.post(T2I, json={"model": "nano-banana", "prompt": "x", "callback_url": f"{receiver.url}/cb"})
    retries = len(server.settings.callback_retry_delays)
    wait_for(lambda: len(flaky.requests) == 2 and len(down.requests) == retries + 1)

    def delta(outcome: str) -> float:
        return scrape(server).value("runapi_callback_deliveries_total", outcome=outcome) - before.value(
            "runapi_callback_deliveries_total", outcome=outcome
        )

    # the counter moves just after the attempt is recorded, so wait for the last one
    wait_for(lambda: delta("given_up") == 1)
    assert delta("delivered") == 1
    assert delta("retried") == 1 + retries  # one for the flaky receiver, every retry of the one that is down


def test_upstream_errors_and_llm_tokens_helpers(server):
    before = scrape(server)
    record_upstream_error("openai-test", "rate_limited")
    record_upstream_error("openai-test", "rate_limited")
    record_llm_tokens("gpt-test-model", input_tokens=120, output_tokens=30, cached_tokens=20)
    after = scrape(server)
    assert (
        after.value("runapi_upstream_errors_total", provider="openai-test", kind="rate_limited")
        - before.value("runapi_upstream_errors_total", provider="openai-test", kind="rate_limited")
        == 2
    )
    tokens = {
        kind: after.value("runapi_llm_tokens_billed_total", model="gpt-test-model", kind=kind)
        - before.value("runapi_llm_tokens_billed_total", model="gpt-test-model", kind=kind)
        for kind in ("input", "cached_input", "output")
    }
    assert tokens == {"input": 100, "cached_input": 20, "output": 30}


@pytest.fixture(scope="module")
def idle_server(tmp_path_factory):
    """No workers: created tasks stay queued, so the database gauges are exact. /metrics needs a token."""
    srv = start_server(tmp_path_factory.mktemp("idle"), run_workers=False, metrics_token=METRICS_TOKEN)
    yield srv
    srv.stop()


def test_task_gauges_come_from_the_database(idle_server):
    assert scrape(idle_server, METRICS_TOKEN).value("runapi_tasks", state="queued") == 0
    with idle_server.client() as api:
        for prompt in ("one", "two", "three"):
            assert api.post(T2I, json={"model": "nano-banana", "prompt": prompt}).status_code == 202
    now = scrape(idle_server, METRICS_TOKEN)
    assert now.value("runapi_tasks", state="queued") == 3
    assert now.value("runapi_tasks", state="running") == 0
    assert now.value("runapi_tasks_queue_depth") == 3
    assert now.value("runapi_tasks_queue_lag_seconds") > 0
    assert now.value("runapi_database_up") == 1


def test_metrics_token_is_required_when_configured(idle_server):
    assert httpx.get(f"{idle_server.url}/metrics").status_code == 401
    wrong = httpx.get(f"{idle_server.url}/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Bearer")
    assert httpx.get(f"{idle_server.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).is_success


def test_metrics_are_open_without_a_token(server):
    assert httpx.get(f"{server.url}/metrics").status_code == 200


def test_liveness_and_readiness(server):
    assert httpx.get(f"{server.url}/health").json() == {"status": "ok"}
    ready = httpx.get(f"{server.url}/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": {"status": "ok"}, "storage": {"status": "ok"}}}


def test_readiness_is_503_when_the_database_does_not_answer(idle_server, tmp_path):
    db = idle_server.uv.config.app.state.runtime.db
    working = db.read_engine
    # A directory is not a database file: every connection attempt fails, as with a lost database.
    db.read_engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}")
    try:
        resp = httpx.get(f"{idle_server.url}/health/ready")
        live = httpx.get(f"{idle_server.url}/health")
        scraped = httpx.get(f"{idle_server.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    finally:
        db.read_engine = working
    assert resp.status_code == 503
    body = resp.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["status"] == "error" and "unable to open" in body["checks"]["database"]["error"]
    assert body["checks"]["storage"] == {"status": "ok"}
    assert live.status_code == 200  # liveness does not depend on the database
    assert scraped.status_code == 200 and Scrape(scraped.text).value("runapi_database_up") == 0
    assert httpx.get(f"{idle_server.url}/health/ready").status_code == 200


def test_readiness_is_503_when_the_storage_is_gone(idle_server):
    root = idle_server.settings.resolved_storage_dir
    moved = root.with_name(root.name + "-moved")
    shutil.move(root, moved)
    try:
        resp = httpx.get(f"{idle_server.url}/health/ready")
    finally:
        shutil.move(moved, root)
    assert resp.status_code == 503
    assert resp.json()["checks"]["storage"]["status"] == "error"
    assert resp.json()["checks"]["database"] == {"status": "ok"}


COUNT_IN_A_PROCESS = """
import sys
from runapi.observability.metrics import record_task_created
for _ in range(int(sys.argv[1])):
    record_task_created("multiprocess_family")
"""
MERGED_SCRAPE = """
from prometheus_client import generate_latest
from runapi.observability.exposition import process_registry
print(generate_latest(process_registry()).decode())
"""


def test_multiprocess_mode_merges_the_counts_of_every_process(tmp_path):
    """What `serve --workers N` relies on: with PROMETHEUS_MULTIPROC_DIR set, any process's /metrics shows
    the sum over all processes, including ones that have exited."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for count in (2, 3):
        subprocess.run([sys.executable, "-c", COUNT_IN_A_PROCESS, str(count)], env=env, check=True)
    merged = subprocess.run(
        [sys.executable, "-c", MERGED_SCRAPE], env=env, check=True, capture_output=True, text=True
    ).stdout
    assert Scrape(merged).value("runapi_tasks_created_total", family="multiprocess_family") == 5
