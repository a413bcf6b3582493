"""CPU cost of tracing on the hot paths, in process, without sockets: one `tracing.span` (enter + exit, with the
attributes a task step passes), and one request through the RequestObserver middleware around a trivial ASGI
app, each with tracing off and on (the SDK with no exporter, `none`, and with the in-memory exporter through a
SimpleSpanProcessor). Microseconds of CPU per operation (process time), best of --repeat runs.

Usage: python bench/tracing_overhead.py [--n 20000] [--repeat 5]
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Callable

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src"))

from runapi.observability import tracing
from runapi.observability.middleware import RequestObserver


def per_op_us(fn: Callable[[int], None], n: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn(n)
        best = min(best, time.process_time() - t0)
    return round(best * 1e6 / n, 3)


def spans(n: int) -> None:
    for i in range(n):
        with tracing.span("task.poll", task_id="t", family="nano_banana", model="nano-banana", polls=i) as s:
            s.set(done=True)


async def app(scope, receive, send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def requests(n: int) -> None:
    observer = RequestObserver(app, access_log_enabled=False)
    scope = {"type": "http", "method": "GET", "path": "/health", "headers": [(b"host", b"x")]}

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message) -> None:
        pass

    async def go() -> None:
        for _ in range(n):
            await observer(dict(scope), receive, send)

    asyncio.run(go())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    results: dict[str, dict[str, float]] = {}
    tracing.use(None)
    results["off"] = {"span_us": per_op_us(spans, args.n, args.repeat), "request_us": per_op_us(requests, args.n, 3)}
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    tracing.use(TracerProvider())
    results["on_no_exporter"] = {
        "span_us": per_op_us(spans, args.n, args.repeat),
        "request_us": per_op_us(requests, args.n, 3),
    }
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use(provider)

    def cleared(fn: Callable[[int], None]) -> Callable[[int], None]:
        def run(n: int) -> None:
            fn(n)
            exporter.clear()

        return run

    results["on_in_memory"] = {
        "span_us": per_op_us(cleared(spans), args.n, args.repeat),
        "request_us": per_op_us(cleared(requests), args.n, 3),
    }
    tracing.use(None)
    print(json.dumps({"benchmark": "tracing_overhead", "n": args.n, **results}))


if __name__ == "__main__":
    main()
