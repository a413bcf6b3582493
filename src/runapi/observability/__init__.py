"""Observability: Prometheus metrics, structured logs carrying request ids, health and readiness probes, and
optional OpenTelemetry traces.

Other code reports what happened through the small helpers in `metrics` (`record_upstream_error`,
`record_llm_tokens`, ...) and opens spans with `tracing.span` (a no-op unless tracing is on); the HTTP side is
measured (and traced) by the `RequestObserver` middleware."""

from .metrics import record_llm_tokens, record_upstream_error, upstream_error_kind

__all__ = ["record_llm_tokens", "record_upstream_error", "upstream_error_kind"]
