"""Prometheus metrics: definitions and the one-line helpers the rest of the code calls.

Counters and histograms live in prometheus_client's default registry. With several processes on one host
(e.g. `runapi serve` plus `runapi worker`, or a multi-worker ASGI server) set PROMETHEUS_MULTIPROC_DIR to an
empty directory shared by all of them, in the environment before they start: every process then writes its
samples there and `/metrics` merges them (see `exposition`). Label values are kept to bounded sets (route
templates, catalog families and models, configured provider names) so series counts stay small."""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

disable_created_metrics()  # no `*_created` series: they double the output and no dashboard here uses them

# Seconds. From a cached status poll (~1 ms) to a long SSE stream or a synchronous generation.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

HTTP_REQUESTS = Counter(
    "runapi_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "runapi_http_request_duration_seconds",
    "Time from request start to the end of the response body (whole stream for SSE).",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
TASKS_CREATED = Counter("runapi_tasks_created", "Media tasks created (committed with their reservation).", ["family"])
TASKS_FINISHED = Counter(
    "runapi_tasks_finished", "Media tasks that reached a final state, by outcome.", ["family", "outcome"]
)
CALLBACK_DELIVERIES = Counter(
    "runapi_callback_deliveries",
    "Callback delivery attempts by outcome: delivered, retried (failed, will retry), "
    "given_up (failed, no retries left).",
    ["outcome"],
)
UPSTREAM_ERRORS = Counter(
    "runapi_upstream_errors", "Failed calls to upstream providers (LLM and media).", ["provider", "kind"]
)
UPSTREAM_CALLS = Counter(
    "runapi_upstream_calls",
    "Calls to media upstream deployments (submit or status check), by outcome: ok, rejected (the request's "
    "fault: validation, content policy), lost, connection, rate_limited, server_error, refused.",
    ["deployment", "outcome"],
)
UPSTREAM_CALL_DURATION = Histogram(
    "runapi_upstream_call_duration_seconds",
    "Time one call to a media upstream deployment took (synchronous upstreams: the whole generation).",
    ["deployment"],
    buckets=LATENCY_BUCKETS,
)
UPSTREAM_COOL_DOWN = Gauge(
    "runapi_upstream_cool_down_until_seconds",
    "Unix time until which a media deployment is kept aside after a 429 (in the past: taking jobs).",
    ["deployment"],
    multiprocess_mode="max",  # several processes: the latest cool-down any of them set
)
LLM_TOKENS = Counter(
    "runapi_llm_tokens_billed",
    "LLM tokens billed, by model and kind (input: uncached prompt, cached_input, output).",
    ["model", "kind"],
)
LEDGER_BATCH = Histogram(
    "runapi_ledger_batch_moves",
    "LLM credit moves (reserve/settle/refund) committed per ledger transaction: how well group commit is grouping.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)


def record_ledger_batch(moves: int) -> None:
    LEDGER_BATCH.observe(moves)


def record_task_created(family: str) -> None:
    TASKS_CREATED.labels(family).inc()


def record_task_finished(family: str, outcome: str) -> None:
    """outcome: completed | failed."""
    TASKS_FINISHED.labels(family, outcome).inc()


def record_callback_attempt(delivered: bool, will_retry: bool) -> None:
    CALLBACK_DELIVERIES.labels("delivered" if delivered else "retried" if will_retry else "given_up").inc()


def upstream_error_kind(status: int | None) -> str:
    """A small fixed set of kinds for an upstream HTTP status (None: no answer: connection error/timeout)."""
    if status is None:
        return "connection"
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "server_error"
    return "refused"


def record_upstream_error(provider: str, kind: str) -> None:
    """Count one failed upstream call. `kind` should come from a small fixed set, e.g. `upstream_error_kind`:
    connection | rate_limited | server_error | refused (or "timeout")."""
    UPSTREAM_ERRORS.labels(provider, kind).inc()


def record_upstream_call(deployment: str, outcome: str, seconds: float) -> None:
    """One call to a media deployment; `outcome` from health.call_outcome's fixed set."""
    UPSTREAM_CALLS.labels(deployment, outcome).inc()
    UPSTREAM_CALL_DURATION.labels(deployment).observe(seconds)


def record_upstream_cool_down(deployment: str, until: float) -> None:
    UPSTREAM_COOL_DOWN.labels(deployment).set(until)


# prometheus_client's .labels() takes a lock and builds a key on every call; models come from the catalog (a
# bounded set), so the children of this per-call counter are kept here.
_llm_token_children: dict[tuple[str, str], Any] = {}


def record_llm_tokens(model: str, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> None:
    """Tokens of one settled LLM call; `input_tokens` includes `cached_tokens`, as in the Usage it bills."""
    fresh = max(input_tokens - cached_tokens, 0)
    for kind, count in (("input", fresh), ("cached_input", cached_tokens), ("output", output_tokens)):
        if count > 0:
            child = _llm_token_children.get((model, kind))
            if child is None:
                child = _llm_token_children[(model, kind)] = LLM_TOKENS.labels(model, kind)
            child.inc(count)


RATE_LIMITED = Counter(
    "runapi_rate_limited",
    "Requests refused with 429 by a rate limit, by kind (rpm, tpm, parallel) and by who set the limit that "
    "refused (key, guardrail, account).",
    ["kind", "scope"],
)


def record_rate_limited(kind: str, scope: str) -> None:
    RATE_LIMITED.labels(kind, scope).inc()
