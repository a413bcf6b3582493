"""OpenTelemetry tracing against real sockets, through the SDK's in-memory exporter: LLM calls to a fake
OpenAI-compatible upstream and media calls to fake fal are client spans naming the provider kind and carrying
the W3C traceparent to the upstream (unless propagation is off); a callback delivery is a span of its own and
sends no trace context to the receiver; and with tracing off nothing imports opentelemetry (a fresh process)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from starlette.testclient import TestClient

from runapi.app import create_app
from runapi.observability import tracing
from runapi.providers.upstream.config import MediaDeployment
from runapi.providers.upstream.http_call import send
from tests.support.fake_media import FakeFal
from tests.support.fake_openai import FakeOpenAI
from tests.support.servers import TEST_KEY
from tests.support.servers import test_settings as app_settings

AUTH = {"Authorization": f"Bearer {TEST_KEY}"}
ROOT = Path(__file__).resolve().parents[2]


def exporter_in_use(propagate: bool = True) -> tuple[InMemorySpanExporter, TracerProvider]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use(provider, propagate=propagate)
    return exporter, provider


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter, provider = exporter_in_use()
    yield exporter
    tracing.use(None)
    provider.shutdown()


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI("up")
    yield fake
    fake.stop()


def wait_for(exporter: InMemorySpanExporter, found: Callable[[list[ReadableSpan]], bool]) -> list[ReadableSpan]:
    for _ in range(400):
        done = list(exporter.get_finished_spans())
        if found(done):
            return done
        time.sleep(0.025)
    raise AssertionError(f"spans never appeared: {[s.name for s in exporter.get_finished_spans()]}")


def span_id_of(traceparent: str) -> int:
    return int(traceparent.split("-")[2], 16)


def test_llm_upstream_calls_are_client_spans_carrying_traceparent(tmp_path: Path, spans, fake_openai):
    settings = app_settings(tmp_path, llm_upstreams=[{"name": "up", "base_url": fake_openai.base_url, "models": ["*"]}])
    body = {"model": "gpt-5.2", "messages": [{"role": "user", "content": "hi"}]}
    with TestClient(create_app(settings)) as client:
        plain = client.post("/v1/chat/completions", headers={**AUTH, "X-Request-Id": "llm-1"}, json=body)
        streamed = client.post(
            "/v1/chat/completions", headers={**AUTH, "X-Request-Id": "llm-2"}, json={**body, "stream": True}
        )
    assert plain.status_code == 200 and streamed.status_code == 200 and "data:" in streamed.text
    done = list(spans.get_finished_spans())
    calls = [s for s in done if s.name == "openai POST"]
    assert [s.attributes["runapi.request_id"] for s in calls] == ["llm-1", "llm-2"]
    assert [s.attributes["runapi.stream"] for s in calls] == [False, True]
    servers = {s.attributes["runapi.request_id"]: s for s in done if s.kind is SpanKind.SERVER}
    for call, sent in zip(calls, fake_openai.requests, strict=True):
        assert call.kind is SpanKind.CLIENT
        assert call.attributes["runapi.provider_kind"] == "openai" and call.attributes["runapi.provider"] == "up"
        assert call.attributes["runapi.model"] == "gpt-5.2" and call.attributes["http.response.status_code"] == 200
        server = servers[call.attributes["runapi.request_id"]]
        assert call.parent is not None and call.parent.span_id == server.context.span_id
        assert span_id_of(sent["traceparent"]) == call.context.span_id  # the upstream joins the trace


def test_no_traceparent_upstream_when_propagation_is_off(tmp_path: Path, fake_openai):
    exporter, provider = exporter_in_use(propagate=False)
    settings = app_settings(tmp_path, llm_upstreams=[{"name": "up", "base_url": fake_openai.base_url, "models": ["*"]}])
    try:
        with TestClient(create_app(settings)) as client:
            answer = client.post(
                "/v1/chat/completions",
                headers=AUTH,
                json={"model": "gpt-5.2", "messages": [{"role": "user", "content": "hi"}]},
            )
    finally:
        tracing.use(None)
        provider.shutdown()
    assert answer.status_code == 200
    assert [s.name for s in exporter.get_finished_spans() if s.kind is SpanKind.CLIENT] == ["openai POST"]
    assert fake_openai.requests[0]["traceparent"] is None


def test_a_media_upstream_call_is_a_client_span_of_its_task(spans):
    fal = FakeFal("fal")
    deployment = MediaDeployment(name="fal-main", kind="fal", base_url=fal.url, api_key="k")

    async def go() -> int:
        async with httpx.AsyncClient() as http:
            with tracing.span("task.step", carry=True, task_id="task-1", model="flux-2-pro"):
                resp = await send(
                    http,
                    deployment,
                    "POST",
                    f"{fal.url}/fal-ai/flux-2-pro",
                    headers={"Authorization": "Key k"},
                    json={},
                )
        return resp.status_code

    try:
        status = asyncio.run(go())
    finally:
        fal.stop()
    (call,) = [s for s in spans.get_finished_spans() if s.kind is SpanKind.CLIENT]
    assert call.name == "fal POST"
    assert call.attributes["runapi.provider_kind"] == "fal" and call.attributes["runapi.provider"] == "fal-main"
    assert call.attributes["runapi.task_id"] == "task-1" and call.attributes["runapi.model"] == "flux-2-pro"
    assert call.attributes["http.response.status_code"] == status
    assert call.attributes["url.path"] == "/fal-ai/flux-2-pro" and call.attributes["server.address"] == "127.0.0.1"
    (sent,) = fal.requests
    assert span_id_of(sent["headers"]["traceparent"]) == call.context.span_id
    assert sent["headers"]["authorization"] == "Key k"  # the adapter's headers still go


def test_a_callback_delivery_is_a_span_and_sends_no_trace_context(tmp_path: Path, spans, recorder):
    receiver = recorder()
    with TestClient(create_app(app_settings(tmp_path))) as client:
        created = client.post(
            "/api/v1/nano_banana/text_to_image",
            headers=AUTH,
            json={"model": "nano-banana", "prompt": "a cat", "callback_url": f"{receiver.url}/hook"},
        )
        assert created.status_code == 202, created.text
        task_id = created.json()["id"]
        done = wait_for(spans, lambda d: any(s.name == "callback.deliver" for s in d))
    (delivery,) = [s for s in done if s.name == "callback.deliver"]
    assert delivery.kind is SpanKind.CLIENT and delivery.parent is None
    assert delivery.attributes["runapi.task_id"] == task_id and delivery.attributes["runapi.attempt"] == 1
    assert delivery.attributes["http.response.status_code"] == 200 and "runapi.error" not in delivery.attributes
    (hook,) = receiver.requests
    assert json.loads(hook["body"])["id"] == task_id
    assert not {"traceparent", "tracestate"} & {k.lower() for k in hook["headers"]}


def test_a_failed_callback_delivery_span_says_why(tmp_path: Path, spans, recorder):
    receiver = recorder(lambda m, p, h, b: (503, {}, b"down"))
    settings = app_settings(tmp_path, callback_retry_delays=(60.0,))
    with TestClient(create_app(settings)) as client:
        created = client.post(
            "/api/v1/nano_banana/text_to_image",
            headers=AUTH,
            json={"model": "nano-banana", "prompt": "a cat", "callback_url": f"{receiver.url}/hook"},
        )
        assert created.status_code == 202
        done = wait_for(spans, lambda d: any(s.name == "callback.deliver" for s in d))
    (delivery,) = [s for s in done if s.name == "callback.deliver"]
    assert delivery.attributes["runapi.error"] == "HTTP 503"
    assert delivery.status.description == "HTTP 503"


# The modules on the paths that trace, and the web app with its services: importing them and serving with
# tracing off must not load the SDK. opentelemetry-api itself is a dependency of `mcp` (a core dependency,
# which imports it for its own spans), so only the app's import loads that, never ours.
CHECK_OFF = """
import asyncio, sys, tempfile
from pathlib import Path
for name in ("runapi.observability.tracing", "runapi.observability.middleware", "runapi.tasks.worker",
             "runapi.tasks.submit", "runapi.tasks.engine", "runapi.callbacks.delivery",
             "runapi.providers.upstream.http_call", "runapi.llm.upstream_common", "runapi.llm.router"):
    __import__(name)
ours = sorted(m for m in sys.modules if m.startswith("opentelemetry"))
from starlette.testclient import TestClient
from runapi.app import create_app
from runapi.settings import Settings
with TestClient(create_app(Settings(data_dir=Path(tempfile.mkdtemp()), bootstrap_api_key="rk-" + "x" * 40))) as c:
    assert c.get("/health").status_code == 200
    assert c.post("/v1/chat/completions", headers={"Authorization": "Bearer rk-" + "x" * 40},
                  json={"model": "gpt-5.2", "messages": [{"role": "user", "content": "hi"}]}).status_code == 200
sdk = sorted(m for m in sys.modules if m.startswith(("opentelemetry.sdk", "opentelemetry.exporter")))
print(ours, sdk)
"""


def test_with_tracing_off_nothing_imports_opentelemetry():
    out = subprocess.run(
        [sys.executable, "-c", CHECK_OFF],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[] []"


# RUNAPI_OTEL_ENABLED=true in a fresh process: the SDK's global provider, named "runapi" unless OTEL_SERVICE_NAME
# says otherwise, gets the request's span (a processor added to it here stands in for the OTLP collector).
CHECK_ON = """
import sys, tempfile
from pathlib import Path
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.testclient import TestClient
from runapi.app import create_app
from runapi.settings import Settings
exporter = InMemorySpanExporter()
with TestClient(create_app(Settings(data_dir=Path(tempfile.mkdtemp())))) as c:
    trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(exporter))
    c.get("/health", headers={"X-Request-Id": "on-1"})
(span,) = [s for s in exporter.get_finished_spans() if s.name == "GET /health"]
print(span.resource.attributes["service.name"], span.attributes["runapi.request_id"])
"""


@pytest.mark.parametrize(("service", "named"), [(None, "runapi"), ("edge-eu", "edge-eu")])
def test_enabled_by_settings_with_the_standard_variables(service, named):
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin", "RUNAPI_OTEL_ENABLED": "true"}
    env["OTEL_TRACES_EXPORTER"] = "none"  # no collector here
    if service:
        env["OTEL_SERVICE_NAME"] = service
    out = subprocess.run(
        [sys.executable, "-c", CHECK_ON], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == f"{named} on-1"
