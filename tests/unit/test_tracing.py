"""OpenTelemetry tracing (observability/tracing.py) through the SDK's in-memory exporter, in process: the HTTP
request's server span (named by route template, with the request id, continuing a client's traceparent), a
sandbox media task's spans (created under the request; its worker step a new trace linked to that creation,
with submit, poll, finish and the billing settlement inside), the no-op path while off, and the start-up
refusal when tracing is enabled without the `otel` extra."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from starlette.testclient import TestClient

from runapi.app import create_app
from runapi.observability import tracing
from runapi.settings import Settings
from tests.support.servers import TEST_KEY
from tests.support.servers import test_settings as app_settings

AUTH = {"Authorization": f"Bearer {TEST_KEY}"}


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use(provider)
    yield exporter
    tracing.use(None)
    provider.shutdown()


def wait_for(exporter: InMemorySpanExporter, found: Callable[[list[ReadableSpan]], bool]) -> list[ReadableSpan]:
    """The finished spans once `found` says they are all there (a worker ends its spans after the API answers)."""
    for _ in range(400):
        done = list(exporter.get_finished_spans())
        if found(done):
            return done
        time.sleep(0.025)
    raise AssertionError(f"spans never appeared: {[s.name for s in exporter.get_finished_spans()]}")


def named(done: list[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [s for s in done if s.name == name]


def test_off_is_one_shared_do_nothing_object():
    tracing.use(None)
    assert not tracing.enabled()
    assert tracing.span("task.step", task_id="t") is tracing.OFF
    assert tracing.server_span("GET", []) is tracing.OFF
    headers = {"a": "b"}
    with tracing.span("x") as span:
        span.set(task_id="t")
        assert span.headers(headers) is headers  # nothing added, nothing copied
    tracing.remember_task("t")  # a no-op, not an error
    tracing.forget_task("t")


def test_a_request_is_a_server_span_named_by_its_route_with_the_request_id(tmp_path: Path, spans):
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    with TestClient(create_app(app_settings(tmp_path))) as client:
        listed = client.get("/api/v1/tasks", headers={**AUTH, "X-Request-Id": "req-trace-1"})
        missing = client.get(
            "/api/v1/tasks/0b8e1d4e-0000-4000-8000-000000000000/callbacks",
            headers={**AUTH, "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"},
        )
    assert listed.status_code == 200 and missing.status_code == 404
    done = list(spans.get_finished_spans())
    (listing,) = named(done, "GET /api/v1/tasks")
    assert listing.kind is SpanKind.SERVER
    assert listing.attributes["runapi.request_id"] == "req-trace-1"
    assert listing.attributes["http.route"] == "/api/v1/tasks"
    assert listing.attributes["http.response.status_code"] == 200
    # the template, not the raw path (one span name per route, whatever the ids)
    (callbacks,) = named(done, "GET /api/v1/tasks/{task_id}/callbacks")
    assert callbacks.attributes["runapi.request_id"] == missing.headers["x-request-id"]
    assert callbacks.attributes["http.response.status_code"] == 404
    assert format(callbacks.context.trace_id, "032x") == trace_id  # the client's trace continues
    assert callbacks.parent is not None and format(callbacks.parent.span_id, "016x") == "00f067aa0ba902b7"


def test_a_path_no_route_matches_gets_one_span_name(tmp_path: Path, spans):
    with TestClient(create_app(app_settings(tmp_path))) as client:
        client.get("/no/such/thing/123")
        client.get("/no/such/thing/456")
    assert [s.name for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER] == ["GET unmatched"] * 2


def test_a_sandbox_media_task_makes_step_spans_linked_to_its_creating_request(tmp_path: Path, spans):
    with TestClient(create_app(app_settings(tmp_path))) as client:
        created = client.post(
            "/api/v1/nano_banana/text_to_image",
            headers={**AUTH, "X-Request-Id": "req-create-1"},
            json={"model": "nano-banana", "prompt": "a cat"},
        )
        assert created.status_code == 202, created.text
        task_id = created.json()["id"]
        done = wait_for(
            spans, lambda d: any(s.name == "task.step" and s.attributes.get("runapi.outcome") == "completed" for s in d)
        )
    request = named(done, "POST /api/v1/nano_banana/text_to_image")[0]
    (create,) = named(done, "task.create")
    assert create.parent is not None and create.parent.span_id == request.context.span_id
    assert create.context.trace_id == request.context.trace_id
    assert (
        dict(create.attributes).items()
        >= {
            "runapi.task_id": task_id,
            "runapi.family": "nano_banana",
            "runapi.action": "text_to_image",
            "runapi.model": "nano-banana",
            "runapi.provider": "sandbox",
            "runapi.provider_kind": "sandbox",
            "runapi.request_id": "req-create-1",
        }.items()
    )

    steps = [s for s in named(done, "task.step") if s.attributes["runapi.task_id"] == task_id]
    last = steps[-1]
    assert last.parent is None and last.context.trace_id != request.context.trace_id  # a trace of its own...
    assert [link.context.span_id for link in last.links] == [create.context.span_id]  # ...linked to the creation
    assert last.attributes["runapi.request_id"] == "req-create-1"
    assert last.attributes["runapi.provider_kind"] == "sandbox" and last.attributes["runapi.model"] == "nano-banana"

    in_steps = {s.context.span_id for s in steps}
    children = [s for s in done if s.parent is not None and s.parent.span_id in in_steps]
    assert {"task.submit", "task.poll", "task.finish"} <= {s.name for s in children}
    for child in children:  # a step hands its task's attributes down
        assert child.attributes["runapi.task_id"] == task_id and child.attributes["runapi.family"] == "nano_banana"
    (finish,) = [s for s in children if s.name == "task.finish"]
    (settle,) = named(done, "billing.settle")
    assert settle.parent is not None and settle.parent.span_id == finish.context.span_id
    assert settle.attributes["runapi.applied"] is True and settle.attributes["runapi.price_cents"] > 0


def test_a_failed_step_span_records_the_exception():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use(provider)
    try:
        with pytest.raises(ValueError), tracing.span("task.poll", task_id="t1"):
            raise ValueError("boom")
    finally:
        tracing.use(None)
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR and "boom" in (span.status.description or "")
    assert span.events[0].name == "exception"


def test_remembered_tasks_are_bounded(spans, monkeypatch):
    monkeypatch.setattr(tracing, "MAX_REMEMBERED_TASKS", 3)
    with tracing.span("task.create"):
        for i in range(5):
            tracing.remember_task(f"t{i}")
    assert tracing._live is not None and list(tracing._live.tasks) == ["t2", "t3", "t4"]


def hide_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if the `otel` extra were not installed (None in sys.modules makes the import fail)."""
    for name in ("opentelemetry.sdk.trace", "opentelemetry.exporter.otlp.proto.http.trace_exporter"):
        monkeypatch.setitem(sys.modules, name, None)


def test_enabled_without_the_extra_refuses_to_start_naming_it(tmp_path: Path, monkeypatch, capsys):
    from runapi.cli.server_cmds import load_settings

    hide_sdk(monkeypatch)
    monkeypatch.setenv("RUNAPI_OTEL_ENABLED", "true")
    monkeypatch.setenv("RUNAPI_DATA_DIR", str(tmp_path))
    with pytest.raises(SystemExit) as exit_:
        load_settings()
    assert exit_.value.code == 2
    assert "pip install 'runapi[otel]'" in capsys.readouterr().err
    # the services refuse too (an app built without the CLI)
    with pytest.raises(tracing.TracingUnavailable, match=r"runapi\[otel\]"):
        tracing.configure(Settings(data_dir=tmp_path, otel_enabled=True))
    assert not tracing.enabled()


def test_disabled_needs_no_extra(tmp_path: Path, monkeypatch):
    hide_sdk(monkeypatch)
    tracing.configure(Settings(data_dir=tmp_path))
    assert not tracing.enabled()


def test_an_unknown_exporter_is_refused_at_start(tmp_path: Path, monkeypatch, capsys):
    from runapi.cli.server_cmds import load_settings

    monkeypatch.setenv("RUNAPI_OTEL_ENABLED", "true")
    monkeypatch.setenv("RUNAPI_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin")
    with pytest.raises(SystemExit):
        load_settings()
    assert "OTEL_TRACES_EXPORTER='zipkin': use one of otlp, console, none" in capsys.readouterr().err
