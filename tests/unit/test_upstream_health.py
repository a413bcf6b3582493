"""Upstream health: the rolling window per deployment (error rate, latency percentiles, last error), the
outcome labels, what the router records around its calls, and the /metrics series it feeds."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from runapi.catalog import get_catalog
from runapi.providers.base import TaskInput, TransientFailure
from runapi.providers.upstream.adapter import Finished, Running, Started
from runapi.providers.upstream.config import MediaDeployment
from runapi.providers.upstream.errors import UpstreamError
from runapi.providers.upstream.health import UpstreamHealth, call_outcome
from runapi.providers.upstream.router import MediaRouter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (None, "ok"),
        (UpstreamError("bad prompt", status=422, retryable=False), "rejected"),
        (UpstreamError("content policy", status=400, retryable=False), "rejected"),
        (UpstreamError("lost", status=500, job_failed=True), "lost"),
        (UpstreamError("down", status=None), "connection"),
        (UpstreamError("slow down", status=429, retry_after=3), "rate_limited"),
        (UpstreamError("oops", status=503), "server_error"),
        (UpstreamError("bad key", status=401), "refused"),
    ],
)
def test_call_outcomes(error, outcome):
    assert call_outcome(error) == outcome


def test_the_window_counts_error_rate_latency_and_the_last_error():
    clock = Clock()
    health = UpstreamHealth(clock=clock)
    for seconds in (0.1, 0.2, 0.3, 0.4):
        health.record("fal", seconds)
    health.record("fal", 0.5, UpstreamError("bad prompt", status=422, retryable=False))  # the request's fault
    clock.now += 2
    health.record("fal", 2.0, UpstreamError("upstream down", status=503))
    clock.now += 3
    snap = health.snapshot("fal")
    assert snap["calls"] == 6 and snap["errors"] == 1
    assert snap["error_rate"] == round(1 / 6, 4)
    assert snap["outcomes"] == {"ok": 4, "rejected": 1, "server_error": 1}
    assert snap["latency_p50_seconds"] == 0.3 and snap["latency_p95_seconds"] == 2.0
    assert snap["last_error"] == "upstream down" and snap["last_error_seconds_ago"] == 3.0


def test_a_deployment_without_calls_has_no_rate():
    snap = UpstreamHealth().snapshot("idle")
    assert snap["calls"] == 0 and snap["error_rate"] is None and snap["latency_p50_seconds"] is None
    assert snap["last_error"] is None


def test_the_window_forgets_old_calls_and_keeps_at_most_its_size():
    clock = Clock()
    health = UpstreamHealth(window_calls=3, window_seconds=60, clock=clock)
    health.record("a", 1.0, UpstreamError("down", status=None))
    clock.now += 61
    health.record("a", 0.1)
    assert health.snapshot("a")["calls"] == 1 and health.snapshot("a")["errors"] == 0
    for _ in range(5):
        health.record("a", 0.1)
    assert health.snapshot("a")["calls"] == 3


def test_a_table_refusal_is_not_a_call():
    health = UpstreamHealth()
    health.record("a", 0.0, UpstreamError("5 s only", retryable=False, out_of_reach=True))
    assert health.snapshot("a")["calls"] == 0


def test_calls_and_durations_reach_the_metrics():
    before_ok = sample("runapi_upstream_calls_total", deployment="metrics-dep", outcome="ok")
    before_err = sample("runapi_upstream_calls_total", deployment="metrics-dep", outcome="server_error")
    before_count = sample("runapi_upstream_call_duration_seconds_count", deployment="metrics-dep")
    health = UpstreamHealth()
    health.record("metrics-dep", 0.2)
    health.record("metrics-dep", 0.3, UpstreamError("oops", status=502))
    assert sample("runapi_upstream_calls_total", deployment="metrics-dep", outcome="ok") == before_ok + 1
    assert sample("runapi_upstream_calls_total", deployment="metrics-dep", outcome="server_error") == before_err + 1
    assert sample("runapi_upstream_call_duration_seconds_count", deployment="metrics-dep") == before_count + 2
    health.cooling_down("metrics-dep", 30)
    until = sample("runapi_upstream_cool_down_until_seconds", deployment="metrics-dep")
    assert time.time() + 25 < until <= time.time() + 30


# --- the router records its calls -----------------------------------------------------------------------------


class Scripted:
    """An adapter whose start and check raise or answer what they are told."""

    def __init__(self, name: str, start: Exception | Started | Finished, check: Exception | Running | None = None):
        self.deployment = MediaDeployment(name=name, kind="scripted")
        self.start_answer = start
        self.check_answer = check

    def supports(self, action_key: str, model: str | None) -> bool:
        return True

    async def start(self, task: TaskInput, ctx: Any) -> Started | Finished:
        if isinstance(self.start_answer, Exception):
            raise self.start_answer
        return self.start_answer

    async def check(self, task: TaskInput, handle: dict[str, Any]) -> Running:
        if isinstance(self.check_answer, Exception):
            raise self.check_answer
        assert self.check_answer is not None
        return self.check_answer

    async def cancel(self, handle: dict[str, Any]) -> None:
        return None

    async def aclose(self) -> None:
        return None


def a_task() -> TaskInput:
    action = get_catalog().action("veo_3_1", "text_to_video")
    assert action is not None
    return TaskInput(id="t1", action=action, model=action.models["veo-3.1"], params={"prompt": "a fox"})


def poll(router: MediaRouter, job: dict[str, Any]) -> Any:
    return asyncio.run(router.poll(a_task(), job, router.adapters[0].deployment.name))


def router_of(*adapters: Any) -> MediaRouter:
    return MediaRouter(list(adapters), httpx.AsyncClient())


def test_the_router_records_each_submission_and_check():
    refusing = Scripted("narrow", UpstreamError("5 s only", retryable=False, out_of_reach=True))
    limited = Scripted("busy", UpstreamError("slow down", status=429, retry_after=30))
    failing = Scripted("down", UpstreamError("bad gateway", status=502))
    good = Scripted("good", Started({"job": "1"}), check=Running(poll_in=1.0))
    router = router_of(refusing, limited, failing, good)
    progress = poll(router, {"stage": "pending", "tried": []})
    assert progress.job["deployment"] == "good"
    assert router.health.snapshot("narrow")["calls"] == 0  # its table refused: no call
    assert router.health.snapshot("busy")["outcomes"] == {"rate_limited": 1}
    assert router.admission.cooling("busy") > 0
    assert sample("runapi_upstream_cool_down_until_seconds", deployment="busy") > time.time()
    assert router.health.snapshot("down")["outcomes"] == {"server_error": 1}
    assert router.health.snapshot("good")["outcomes"] == {"ok": 1}
    poll(router, progress.job)  # a status check
    assert router.health.snapshot("good")["outcomes"] == {"ok": 2}


def test_the_router_records_a_failed_check():
    lost = Scripted("lossy", Started({"job": "1"}), check=UpstreamError("gone", status=500))
    router = router_of(lost)
    job = {"stage": "upstream", "deployment": "lossy", "handle": {"job": "1"}, "tried": ["lossy"]}
    with pytest.raises(TransientFailure):
        poll(router, job)
    snap = router.health.snapshot("lossy")
    assert snap["outcomes"] == {"server_error": 1} and snap["last_error"] == "gone" and snap["error_rate"] == 1.0
