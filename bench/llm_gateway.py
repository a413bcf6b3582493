"""LLM gateway overhead against a fast fake upstream, all on 127.0.0.1, side by side in one run:

- runapi: auth, key limits, guardrails, durable token billing (reserve + settle), access log, metrics all on;
- runapi_limited: the same with rate limits on, none of them reached: rpm, tpm and max_parallel_requests set on
  the key (and an account rpm from RUNAPI_ACCOUNT_RPM_LIMIT), so every call runs the limiter (in-process
  counters; with --redis URL, shared ones in Redis);
- passthrough: a bare aiohttp forwarder (bench/passthrough.py), the ceiling for a Python gateway;
- litellm: LiteLLM proxy with one worker, if installed (`--litellm PATH`, default `litellm` on PATH; install
  it in a separate virtualenv: `python3 -m venv /tmp/litellm && /tmp/litellm/bin/pip install 'litellm[proxy]'`);
- upstream: the fake upstream called directly;
- runapi_otel (only when asked for with --only): runapi with tracing on (RUNAPI_OTEL_ENABLED=true,
  OTEL_TRACES_EXPORTER=none: every span made, none exported), for the cost of tracing per request.

For each: requests/s, p50/p99 latency, server CPU ms per request (the whole process tree), idle and peak
memory (RSS of the tree), start-up time (spawn to first healthy answer). Load from wrk (Debian package `wrk`),
bounded by --seconds per contestant.

Streaming (`--stream spaced|burst`): the calls ask for `"stream":true`; the fake upstream answers with 20
content chunks and a usage chunk, `--gap-ms` (default 2) apart, each its own write (spaced), or all in one
write (burst). The pass-through relays the stream one write per upstream read.

Interleaved (`--interleave ROUNDS`): every contestant is started once and the load then rotates between them
in `--slice`-second slices, ROUNDS times (the starting contestant rotates too), so background load on a shared
machine hits all alike; it prints each slice's CPU ms per request and, per round, each contestant's ratio to
the pass-through. `--runapi-src NAME=PATH` (repeatable) adds a runapi contestant importing its code from PATH
(e.g. before=/work/main/src after=src) for before/after comparisons in one run.

Usage: python bench/llm_gateway.py [--seconds 10] [--connections 32] [--only runapi,runapi_limited,...]
       [--redis redis://127.0.0.1:6379/0]
       python bench/llm_gateway.py --interleave 5 --slice 4 --only runapi,passthrough [--stream spaced]
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from wrkload import post_script, run_wrk

KEY = "rk-bench-" + "b" * 40
LITELLM_KEY = "sk-bench-master-" + "m" * 32
BODY = '{"model":"gpt-5.2","messages":[{"role":"user","content":"hello"}],"max_tokens":64}'
STREAM_BODY = '{"model":"gpt-5.2","messages":[{"role":"user","content":"hello"}],"max_tokens":64,"stream":true}'
HERE = os.path.dirname(os.path.abspath(__file__))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(url: str, timeout: float = 120) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return time.perf_counter() - t0
        except httpx.HTTPError:
            pass
        time.sleep(0.02)
    raise SystemExit(f"{url} did not come up")


def tree(pid: int) -> list[int]:
    """`pid` and all its descendants (worker processes count too)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def rss_mb(pid: int) -> float:
    total = 0
    for p in tree(pid):
        try:
            for line in open(f"/proc/{p}/status"):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return round(total / 1024, 1)


def cpu_seconds(pid: int) -> float:
    total = 0.0
    for p in tree(pid):
        try:
            fields = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def wrk(url: str, seconds: int, connections: int, headers: dict) -> dict:
    return run_wrk(url, seconds, connections, post_script(STREAM_BODY if STREAMING else BODY), headers)


STREAMING = False  # set from --stream: every call asks for an SSE stream


@dataclass
class Contestant:
    name: str
    cmd: list[str]
    port: int
    health_path: str
    headers: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    prepare: Callable[[], None] | None = None  # once it answers, before any API call


def limit_the_key(database: str) -> Callable[[], None]:
    """High rate limits on the bench key, written straight to its database (never reached: the limiter runs
    on every call but refuses none)."""

    def go() -> None:
        with sqlite3.connect(database) as conn:
            conn.execute(
                "UPDATE api_keys SET rpm_limit = ?, tpm_limit = ?, max_parallel_requests = ? WHERE kind = 'api'",
                (10**9, 2**31 - 1, 10_000),
            )

    return go


def measure(c: Contestant, seconds: int, connections: int) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.Popen(c.cmd, env={**os.environ, **c.env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        healthy(f"http://127.0.0.1:{c.port}{c.health_path}")
        startup = time.perf_counter() - t0
        if c.prepare is not None:
            c.prepare()
        time.sleep(1.5)
        idle = rss_mb(proc.pid)
        # A short warm-up, so caches and connection pools are what a running gateway has.
        wrk(f"http://127.0.0.1:{c.port}/v1/chat/completions", 1, connections, c.headers)
        cpu0 = cpu_seconds(proc.pid)
        result = wrk(f"http://127.0.0.1:{c.port}/v1/chat/completions", seconds, connections, c.headers)
        cpu = cpu_seconds(proc.pid) - cpu0
        return {
            **result,
            "cpu_ms_per_request": round(cpu * 1000 / max(result["requests"], 1), 3),
            "idle_rss_mb": idle,
            "peak_rss_mb": rss_mb(proc.pid),
            "startup_s": round(startup, 2),
        }
    finally:
        stop(proc)


def stop(proc: subprocess.Popen) -> None:
    for p in reversed(tree(proc.pid)):
        try:
            os.kill(p, 15)
        except ProcessLookupError:
            pass
    proc.wait(timeout=30)


def interleave(contestants: list[Contestant], rounds: int, slice_s: int, connections: int) -> dict:
    """All contestants up at once; load rotates between them in short slices (see the module docstring)."""
    procs: dict[str, subprocess.Popen] = {}
    slices: dict[str, list[float]] = {c.name: [] for c in contestants}
    try:
        for c in contestants:
            procs[c.name] = subprocess.Popen(
                c.cmd, env={**os.environ, **c.env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        for c in contestants:
            healthy(f"http://127.0.0.1:{c.port}{c.health_path}")
            wrk(f"http://127.0.0.1:{c.port}/v1/chat/completions", 1, connections, c.headers)  # warm-up
        for r in range(rounds):
            for i in range(len(contestants)):
                c = contestants[(r + i) % len(contestants)]
                cpu0 = cpu_seconds(procs[c.name].pid)
                result = wrk(f"http://127.0.0.1:{c.port}/v1/chat/completions", slice_s, connections, c.headers)
                cpu = cpu_seconds(procs[c.name].pid) - cpu0
                if result["non_2xx"]:
                    raise SystemExit(f"{c.name}: {result['non_2xx']} non-2xx answers")
                slices[c.name].append(round(cpu * 1000 / max(result["requests"], 1), 4))
    finally:
        for proc in procs.values():
            stop(proc)
    out: dict = {"cpu_ms_per_request": slices}
    out["median_cpu_ms_per_request"] = {k: round(statistics.median(v), 4) for k, v in slices.items()}
    if "passthrough" in slices:
        base = slices["passthrough"]
        out["ratio_to_passthrough"] = {
            k: [round(a / b, 2) for a, b in zip(v, base, strict=True)] for k, v in slices.items() if k != "passthrough"
        }
        out["median_ratio_to_passthrough"] = {
            k: round(statistics.median(v), 2) for k, v in out["ratio_to_passthrough"].items()
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--workers", type=int, default=1, help="runapi API processes")
    ap.add_argument("--litellm", default=shutil.which("litellm"), help="path to the litellm executable")
    ap.add_argument("--only", default="runapi,runapi_limited,passthrough,litellm,upstream")
    ap.add_argument("--redis", default=None, help="Redis URL for runapi_limited's counters (default: in-process)")
    ap.add_argument("--stream", choices=("off", "spaced", "burst"), default="off")
    ap.add_argument("--gap-ms", type=float, default=2.0, help="spacing of the upstream's stream chunks")
    ap.add_argument("--interleave", type=int, default=0, metavar="ROUNDS", help="rotate contestants in slices")
    ap.add_argument("--slice", type=int, default=4, help="seconds per contestant per round when interleaving")
    ap.add_argument("--runapi-src", action="append", default=[], metavar="NAME=PATH")
    args = ap.parse_args()
    global STREAMING
    STREAMING = args.stream != "off"
    gap = "0" if args.stream == "burst" else str(args.gap_ms)
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    wanted = set(args.only.split(","))
    up_port = free_port()
    upstream = subprocess.Popen([sys.executable, os.path.join(HERE, "fast_upstream.py"), str(up_port), gap])
    results: dict[str, dict] = {}
    try:
        healthy(f"http://127.0.0.1:{up_port}/")
        up_base = f"http://127.0.0.1:{up_port}/v1"
        with tempfile.TemporaryDirectory() as data:

            def runapi(name: str, prepare: Callable[[], None] | None = None, **env: str) -> Contestant:
                port = free_port()
                data_dir = os.path.join(data, name)
                return Contestant(
                    # --log-level info: the access log is on (one line per call, to /dev/null here).
                    name,
                    [
                        sys.executable,
                        "-m",
                        "runapi.cli",
                        "serve",
                        "--port",
                        str(port),
                        "--log-level",
                        "info",
                        *(["--workers", str(args.workers)] if args.workers > 1 else []),
                    ],
                    port,
                    "/health",
                    {"Authorization": f"Bearer {KEY}"},
                    {
                        "RUNAPI_DATA_DIR": data_dir,
                        "RUNAPI_BOOTSTRAP_API_KEY": KEY,
                        "RUNAPI_BOOTSTRAP_CREDITS_CENTS": str(10**12),
                        "RUNAPI_RUN_WORKERS": "false",
                        "RUNAPI_LLM_UPSTREAMS": json.dumps([{"name": "fast", "base_url": up_base, "models": ["*"]}]),
                        **env,
                    },
                    prepare,
                )

            contestants = [
                runapi("runapi"),
                runapi(
                    "runapi_limited",
                    limit_the_key(os.path.join(data, "runapi_limited", "runapi.db")),
                    RUNAPI_ACCOUNT_RPM_LIMIT=str(10**9),
                    **({"RUNAPI_REDIS_URL": args.redis} if args.redis else {}),
                ),
                runapi("runapi_otel", RUNAPI_OTEL_ENABLED="true", OTEL_TRACES_EXPORTER="none"),
            ]
            for spec in args.runapi_src:
                name, src = spec.split("=", 1)
                wanted.add(name)
                contestants.append(runapi(name, PYTHONPATH=os.path.abspath(src)))  # its data dir is removed with `data`
            port = free_port()
            contestants.append(
                Contestant(
                    "passthrough",
                    [sys.executable, os.path.join(HERE, "passthrough.py"), str(port), up_base],
                    port,
                    "/health",
                )
            )
            if args.litellm:
                port = free_port()
                config = os.path.join(data, "litellm.yaml")
                with open(config, "w") as f:
                    f.write(
                        "model_list:\n  - model_name: gpt-5.2\n    litellm_params:\n"
                        f"      model: openai/gpt-5.2\n      api_base: {up_base}\n      api_key: sk-fake\n"
                    )
                contestants.append(
                    Contestant(
                        "litellm",
                        [args.litellm, "--config", config, "--port", str(port), "--num_workers", "1"],
                        port,
                        "/health/liveliness",
                        {"Authorization": f"Bearer {LITELLM_KEY}"},
                        {"LITELLM_MASTER_KEY": LITELLM_KEY, "LITELLM_LOG": "ERROR"},
                    )
                )
            if args.interleave:
                chosen = [c for c in contestants if c.name in wanted]
                results["interleaved"] = interleave(chosen, args.interleave, args.slice, args.connections)
            else:
                for c in contestants:
                    if c.name in wanted:
                        results[c.name] = measure(c, args.seconds, args.connections)
        if "upstream" in wanted and not args.interleave:
            results["upstream_direct"] = wrk(
                f"http://127.0.0.1:{up_port}/v1/chat/completions", args.seconds, args.connections, {}
            )
    finally:
        upstream.terminate()
        upstream.wait(timeout=30)
    print(
        json.dumps(
            {
                "benchmark": "llm_gateway",
                "seconds": args.seconds,
                "connections": args.connections,
                "runapi_workers": args.workers,
                "stream": args.stream,
                **({"gap_ms": args.gap_ms} if args.stream == "spaced" else {}),
                **({"rounds": args.interleave, "slice_s": args.slice} if args.interleave else {}),
                **results,
            }
        )
    )


if __name__ == "__main__":
    main()
