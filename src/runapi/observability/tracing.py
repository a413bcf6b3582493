"""OpenTelemetry tracing, optional: the `otel` extra (`pip install 'runapi[otel]'`) and RUNAPI_OTEL_ENABLED=true.

Everything else only calls `span(name, **attrs)` (and `server_span` in the HTTP middleware). With tracing off
that returns one shared do-nothing object: a global read and a call on the hot paths, and this module never
imports opentelemetry. With tracing on, `configure` builds the SDK's TracerProvider with an OTLP/HTTP
exporter (OTEL_TRACES_EXPORTER=console prints spans instead, =none makes them without exporting); the SDK
itself reads the other standard OTEL_* variables (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME,
OTEL_TRACES_SAMPLER, OTEL_SDK_DISABLED, ...).

Attributes: keyword arguments become `runapi.<name>` attributes (None values are left out); `attributes=` takes
standard names as they are (`http.route`, `server.address`). Every span made while a request is served carries
its `runapi.request_id`. A span opened with `carry=True` (a task step) hands its runapi.* attributes down to
the spans opened inside it, so an upstream call made by a task step names the task without being told.

A task outlives its request: the worker's steps are new traces, linked (span links) to the span that created
the task. That link, and the creating request's id, are kept in this process only (`remember_task`), bounded,
so they exist when the task runs where it was created (the embedded default of in-process workers) and are
simply absent elsewhere or after a restart; nothing is stored with the task."""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from .context import NO_REQUEST, request_id

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span, SpanContext, Tracer

    from ..settings import Settings

Kind = Literal["internal", "server", "client"]
EXTRA = "pip install 'runapi[otel]'"
EXPORTERS = ("otlp", "console", "none")  # OTEL_TRACES_EXPORTER values understood (the SDK's own names)
MAX_REMEMBERED_TASKS = 10_000  # task id → its creating span: ~200 bytes each, so at most a few MB
Attr = str | int | float | bool


class TracingUnavailable(RuntimeError):
    """Tracing is enabled but cannot be turned on: the OpenTelemetry SDK (the `otel` extra) is not installed,
    or OTEL_TRACES_EXPORTER names an exporter we do not make."""


class _Off:
    """What `span` returns while tracing is off: every method does nothing."""

    __slots__ = ()

    def __enter__(self) -> _Off:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def set(self, **attrs: Attr | None) -> None:
        pass

    def set_attributes(self, attributes: Mapping[str, Attr]) -> None:
        pass

    def rename(self, name: str) -> None:
        pass

    def fail(self, description: str) -> None:
        pass

    def headers(self, headers: Mapping[str, str]) -> Mapping[str, str]:
        return headers


OFF = _Off()


class _Tracing:
    """The live configuration (one per process; None while off)."""

    def __init__(self, provider: TracerProvider, propagate: bool) -> None:
        from opentelemetry import context, trace
        from opentelemetry.trace import Link, SpanKind, Status, StatusCode
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self.provider = provider
        self.tracer: Tracer = provider.get_tracer("runapi")
        self.propagate = propagate
        self.context, self.trace = context, trace
        self.Link, self.Status, self.ERROR = Link, Status, StatusCode.ERROR
        self.kinds = {"internal": SpanKind.INTERNAL, "server": SpanKind.SERVER, "client": SpanKind.CLIENT}
        # W3C traceparent/tracestate only: never baggage, which could carry anything a client put in it
        self.propagator = TraceContextTextMapPropagator()
        self.tasks: OrderedDict[str, tuple[SpanContext, str]] = OrderedDict()


_live: _Tracing | None = None
# runapi.* attributes a carrying span (a task step) hands down to the spans opened inside it
_carried: ContextVar[dict[str, Attr] | None] = ContextVar("runapi_trace_carried", default=None)


def enabled() -> bool:
    return _live is not None


def _clean(attrs: Mapping[str, Attr | None]) -> dict[str, Attr]:
    return {f"runapi.{k}": v for k, v in attrs.items() if v is not None}


class _On:
    """One span while tracing is on; started on entry, ended on exit (an Exception marks it failed)."""

    __slots__ = (
        "_t",
        "_name",
        "_kind",
        "_attrs",
        "_links",
        "_current",
        "_carry",
        "_parent",
        "span",
        "_ctx",
        "_carried",
    )

    def __init__(
        self,
        t: _Tracing,
        name: str,
        kind: Kind,
        attrs: dict[str, Attr],
        links: list[Any],
        current: bool,
        carry: bool,
        parent: Any = None,
    ) -> None:
        self._t, self._name, self._kind, self._attrs, self._links = t, name, kind, attrs, links
        self._current, self._carry, self._parent = current, carry, parent
        self._ctx: Any = None
        self._carried: Any = None

    def __enter__(self) -> _On:
        t, attrs = self._t, self._attrs
        carried = _carried.get()
        if carried:
            attrs = {**carried, **attrs}
        rid = request_id.get()
        if rid != NO_REQUEST:
            attrs.setdefault("runapi.request_id", rid)
        self.span: Span = t.tracer.start_span(
            self._name, context=self._parent, kind=t.kinds[self._kind], attributes=attrs, links=self._links
        )
        if self._current:
            self._ctx = t.context.attach(t.trace.set_span_in_context(self.span))
        if self._carry:
            self._carried = _carried.set({k: v for k, v in attrs.items() if k.startswith("runapi.")})
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if isinstance(exc, Exception):  # not a cancellation or a closed generator
            self.span.record_exception(exc)
            self.span.set_status(self._t.Status(self._t.ERROR, f"{type(exc).__name__}: {exc}"[:500]))
        self.span.end()
        if self._carried is not None:
            _carried.reset(self._carried)
        if self._ctx is not None:
            self._t.context.detach(self._ctx)

    def set(self, **attrs: Attr | None) -> None:
        self.span.set_attributes(_clean(attrs))

    def set_attributes(self, attributes: Mapping[str, Attr]) -> None:
        self.span.set_attributes(attributes)

    def rename(self, name: str) -> None:
        self.span.update_name(name)

    def fail(self, description: str) -> None:
        """Mark the span failed without an exception (an HTTP 5xx answer, an upstream's error status)."""
        self.span.set_status(self._t.Status(self._t.ERROR, description[:500]))

    def headers(self, headers: Mapping[str, str]) -> Mapping[str, str]:
        """`headers` plus this span's W3C traceparent (for an upstream we call), unless propagation is off."""
        if not self._t.propagate:
            return headers
        out = dict(headers)
        self._t.propagator.inject(out, context=self._t.trace.set_span_in_context(self.span))
        return out


SpanHandle = _On | _Off


def span(
    name: str,
    kind: Kind = "internal",
    *,
    attributes: Mapping[str, Attr] | None = None,
    current: bool = True,
    carry: bool = False,
    linked_task: str | None = None,
    **attrs: Attr | None,
) -> SpanHandle:
    """A context manager for one span (does nothing while tracing is off). `current=False` for a span held
    across yields of a generator (it must not become the context of the caller's code in between);
    `linked_task`: link to the span that created that task, and take its request id (`remember_task`)."""
    t = _live
    if t is None:
        return OFF
    clean = _clean(attrs)
    if attributes:
        clean.update(attributes)
    links: list[Any] = []
    if linked_task is not None:
        origin = t.tasks.get(linked_task)
        if origin is not None:
            links.append(t.Link(origin[0]))
            if origin[1] != NO_REQUEST:
                clean["runapi.request_id"] = origin[1]
    return _On(t, name, kind, clean, links, current, carry)


def server_span(method: str, headers: Iterable[tuple[bytes, bytes]]) -> SpanHandle:
    """The span of one HTTP request we serve, continuing the client's W3C trace context when it sent one.
    Named by the route template once the router has matched (`rename`), never by the raw path."""
    t = _live
    if t is None:
        return OFF
    carrier = {}
    for key, value in headers:
        if key in (b"traceparent", b"tracestate"):
            carrier[key.decode()] = value.decode("latin-1")
    parent = t.propagator.extract(carrier) if carrier else None
    return _On(t, f"{method}", "server", {"http.request.method": method}, [], True, False, parent)


def remember_task(task_id: str) -> None:
    """Keep the current span as the one that created `task_id` (for the links of its worker steps)."""
    t = _live
    if t is None:
        return
    ctx = t.trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return
    t.tasks[task_id] = (ctx, request_id.get())
    if len(t.tasks) > MAX_REMEMBERED_TASKS:
        t.tasks.popitem(last=False)


def forget_task(task_id: str) -> None:
    """The task finished: its steps need no more links."""
    t = _live
    if t is not None:
        t.tasks.pop(task_id, None)


def use(provider: TracerProvider | None, *, propagate: bool = True) -> None:
    """Trace through `provider` from now on (None: tracing off). `configure` calls it; tests and benchmarks
    call it with their own provider (an in-memory exporter)."""
    global _live
    _live = None if provider is None else _Tracing(provider, propagate)


def require_sdk() -> None:
    """Raise TracingUnavailable, naming the extra, unless the SDK and the OTLP exporter can be imported."""
    try:
        import opentelemetry.exporter.otlp.proto.http.trace_exporter  # noqa: F401
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError as exc:
        raise TracingUnavailable(
            f"RUNAPI_OTEL_ENABLED=true needs the OpenTelemetry SDK and OTLP exporter, which are not installed "
            f"({exc.name} is missing): install the otel extra ({EXTRA}) or set RUNAPI_OTEL_ENABLED=false"
        ) from exc


def _exporter() -> str:
    exporter = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() or "otlp"
    if exporter not in EXPORTERS:
        raise TracingUnavailable(f"OTEL_TRACES_EXPORTER={exporter!r}: use one of {', '.join(EXPORTERS)}")
    return exporter


def check(settings: Settings) -> None:
    """Raise TracingUnavailable (saying what to do) if the settings enable tracing and it cannot be turned on."""
    if settings.otel_enabled:
        require_sdk()
        _exporter()


def configure(settings: Settings) -> None:
    """Turn tracing on when the settings ask for it: one TracerProvider per process (set as OpenTelemetry's
    global one too, so libraries' own spans join the same traces) exporting over OTLP/HTTP in batches."""
    # a second app in this process (tests) keeps the first one's pipeline
    if not settings.otel_enabled or _live is not None:
        return
    require_sdk()
    exporter = _exporter()
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # OTEL_SERVICE_NAME (or service.name in OTEL_RESOURCE_ATTRIBUTES) wins; "runapi" otherwise
    named = os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get("OTEL_RESOURCE_ATTRIBUTES", "")
    provider = TracerProvider(resource=Resource.create({} if named else {SERVICE_NAME: "runapi"}))
    if exporter == "otlp":
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    elif exporter == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    # "none": spans are made (and seen by any processor added later) but not exported
    trace.set_tracer_provider(provider)
    use(provider, propagate=settings.otel_propagate_upstream)
