"""Task creation and poll throughput against a real server process on 127.0.0.1.

Creation: POST /api/v1/nano_banana/text_to_image (auth, validation, durable insert + credit reservation,
202). Polling: GET of the created tasks. Bounded: N requests with C concurrent connections each phase.
Workers are off during the run so the figures measure the API path alone (`--with-workers` to include them).

Usage: python bench/tasks_throughput.py [--requests 2000] [--concurrency 32] [--sync FULL|NORMAL]
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import httpx

KEY = "rk-bench-" + "b" * 40


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(data_dir: str, port: int, sync: str, workers: bool) -> subprocess.Popen:
    env = {
        **os.environ,
        "RUNAPI_DATA_DIR": data_dir,
        "RUNAPI_BOOTSTRAP_API_KEY": KEY,
        "RUNAPI_BOOTSTRAP_CREDITS_CENTS": str(10**9),
        "RUNAPI_SQLITE_SYNCHRONOUS": sync,
        "RUNAPI_RUN_WORKERS": "true" if workers else "false",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "runapi.cli", "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


def cpu_seconds(pid: int) -> float:
    """User+system CPU time of the server process, so figures don't depend on the load client's share."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def phase(client: httpx.AsyncClient, n: int, concurrency: int, make, pid: int) -> dict:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    ids: list[str] = []
    counter = iter(range(n))

    async def one_worker():
        for i in counter:
            t0 = time.perf_counter()
            resp = await make(client, i)
            latencies.append(time.perf_counter() - t0)
            statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1
            if resp.status_code == 202:
                ids.append(resp.json()["id"])

    t0, cpu0 = time.perf_counter(), cpu_seconds(pid)
    await asyncio.gather(*(one_worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - t0
    cpu = cpu_seconds(pid) - cpu0
    latencies.sort()
    return {
        "requests": n,
        "seconds": round(elapsed, 3),
        "rps": round(n / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
        "server_cpu_ms_per_request": round(cpu * 1000 / n, 3),
        "statuses": statuses,
        "_ids": ids,
    }


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--sync", default="FULL")
    ap.add_argument("--with-workers", action="store_true")
    args = ap.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        proc = start(data_dir, port, args.sync, args.with_workers)
        try:
            limits = httpx.Limits(max_connections=args.concurrency)
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}",
                limits=limits,
                headers={"Authorization": f"Bearer {KEY}"},
                timeout=60,
            ) as c:
                body = {"model": "nano-banana", "prompt": "bench", "aspect_ratio": "16:9"}
                await phase(c, 50, 4, lambda cl, i: cl.post("/api/v1/nano_banana/text_to_image", json=body), proc.pid)
                create = await phase(
                    c,
                    args.requests,
                    args.concurrency,
                    lambda cl, i: cl.post("/api/v1/nano_banana/text_to_image", json=body),
                    proc.pid,
                )
                ids = create.pop("_ids")
                poll = await phase(
                    c,
                    args.requests,
                    args.concurrency,
                    lambda cl, i: cl.get(f"/api/v1/nano_banana/text_to_image/{ids[i % len(ids)]}"),
                    proc.pid,
                )
                poll.pop("_ids")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(
        json.dumps(
            {
                "benchmark": "tasks_throughput",
                "sqlite_synchronous": args.sync,
                "workers": args.with_workers,
                "concurrency": args.concurrency,
                "create": create,
                "poll": poll,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
