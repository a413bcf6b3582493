"""Task creation and poll throughput against a real server process on 127.0.0.1.

Creation: POST /api/v1/nano_banana/text_to_image (auth, validation, durable insert + credit reservation,
202). Polling: GET of the created tasks. Bounded: N requests with C concurrent connections each phase.
Workers are off during the run so the figures measure the API path alone (`--with-workers` to include them).

With `--wrk`, the load comes from wrk instead of the in-process httpx client (which competes with the server
for the CPUs): a create phase POSTs the body for `--seconds`, then a poll phase GETs the tasks just created
(their ids read from the server's database), cycling through them. Each phase reports requests/s, p50/p99,
non-2xx answers and the server's CPU ms per request (the whole process tree). `--interleave ROUNDS` with
`--runapi-src NAME=PATH` (repeatable; e.g. before=/work/main/src after=src) starts one server per source and
rotates `--slice`-second create and poll slices between them, ROUNDS times, printing every slice, the medians
and, per round, each contestant's CPU ratio to the first one.

Usage: python bench/tasks_throughput.py [--requests 2000] [--concurrency 32] [--sync FULL|NORMAL]
       python bench/tasks_throughput.py --wrk [--seconds 10] [--connections 32]
       python bench/tasks_throughput.py --wrk --interleave 4 --slice 4 --runapi-src before=/work/main/src \
           --runapi-src after=src
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import time

import httpx
from runapi_proc import free_port, start_runapi

KEY = "rk-bench-" + "b" * 40


def start(data_dir: str, port: int, sync: str, workers: bool, src: str | None = None) -> subprocess.Popen:
    env = {
        "RUNAPI_DATA_DIR": data_dir,
        "RUNAPI_BOOTSTRAP_API_KEY": KEY,
        "RUNAPI_BOOTSTRAP_CREDITS_CENTS": str(10**12),
        "RUNAPI_SQLITE_SYNCHRONOUS": sync,
        "RUNAPI_RUN_WORKERS": "true" if workers else "false",
        # (--callback-url points at 127.0.0.1; nothing listens there, workers are off: only the create path counts)
        "RUNAPI_ALLOW_PRIVATE_NETWORK": "true",
    }
    return start_runapi(port, env, src)


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


PATH = "/api/v1/nano_banana/text_to_image"
BODY = '{"model":"nano-banana","prompt":"bench","aspect_ratio":"16:9"}'


def poll_script(ids: list[str]) -> str:
    """A wrk script that GETs the status of `ids` in turn."""
    listed = ",".join(f'"{i}"' for i in ids)
    return (
        f"local ids = {{{listed}}}\nlocal n = 0\n"
        "request = function()\n  n = n + 1\n"
        f'  return wrk.format("GET", "{PATH}/" .. ids[(n % #ids) + 1])\nend\n'
    )


def recent_ids(data_dir: str, limit: int = 5000) -> list[str]:
    """The newest tasks' ids, read straight from the server's database (read-only; WAL lets it run alongside)."""
    conn = sqlite3.connect(f"file:{os.path.join(data_dir, 'runapi.db')}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT id FROM tasks ORDER BY created_at DESC LIMIT ?", (limit,)).fetchall()
    finally:
        conn.close()
    return [r[0] for r in rows]


def wrk_phase(kind: str, port: int, pid: int, data_dir: str, seconds: int, connections: int) -> dict:
    """One wrk run of creates or polls against the server on `port`, with its CPU ms per request."""
    from llm_gateway import cpu_seconds as tree_cpu
    from wrkload import post_script, run_wrk

    script = post_script(BODY) if kind == "create" else poll_script(recent_ids(data_dir))
    cpu0 = tree_cpu(pid)
    result = run_wrk(f"http://127.0.0.1:{port}{PATH}", seconds, connections, script, {"Authorization": f"Bearer {KEY}"})
    cpu = tree_cpu(pid) - cpu0
    return {**result, "cpu_ms_per_request": round(cpu * 1000 / max(result["requests"], 1), 4)}


def wrk_main(args: argparse.Namespace) -> None:
    """--wrk: create then poll phases from wrk; with --interleave, rotating slices between --runapi-src servers."""
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    sources = [tuple(s.split("=", 1)) for s in args.runapi_src] or [("runapi", None)]
    out: dict = {
        "benchmark": "tasks_throughput",
        "load": "wrk",
        "sqlite_synchronous": args.sync,
        "workers": args.with_workers,
        "connections": args.connections,
    }
    with tempfile.TemporaryDirectory() as data:
        servers: dict[str, tuple[subprocess.Popen, int, str]] = {}
        try:
            for name, src in sources:
                port, data_dir = free_port(), os.path.join(data, name)
                os.makedirs(data_dir)
                servers[name] = (start(data_dir, port, args.sync, args.with_workers, src), port, data_dir)
            for _name, (proc, port, data_dir) in servers.items():  # warm-up: caches, pools, the first tasks
                for kind in ("create", "poll"):
                    wrk_phase(kind, port, proc.pid, data_dir, 1, args.connections)
            names = list(servers)
            slices: dict[str, dict[str, list[dict]]] = {n: {"create": [], "poll": []} for n in names}
            rounds = args.interleave or 1
            seconds = args.slice if args.interleave else args.seconds
            for r in range(rounds):
                for i in range(len(names)):
                    name = names[(r + i) % len(names)]
                    proc, port, data_dir = servers[name]
                    for kind in ("create", "poll"):
                        slices[name][kind].append(wrk_phase(kind, port, proc.pid, data_dir, seconds, args.connections))
        finally:
            for proc, _port, _dir in servers.values():
                proc.terminate()
                proc.wait(timeout=30)
    bad = {n: sum(s["non_2xx"] for k in ("create", "poll") for s in slices[n][k]) for n in names}
    for kind in ("create", "poll"):
        out[kind] = {
            n: {
                "slices": slices[n][kind],
                "median_rps": statistics.median(s["rps"] for s in slices[n][kind]),
                "median_cpu_ms_per_request": round(
                    statistics.median(s["cpu_ms_per_request"] for s in slices[n][kind]), 4
                ),
                "median_p50_ms": statistics.median(s["p50_ms"] for s in slices[n][kind]),
                "median_p99_ms": statistics.median(s["p99_ms"] for s in slices[n][kind]),
                "non_2xx": sum(s["non_2xx"] for s in slices[n][kind]),
            }
            for n in names
        }
        if len(names) > 1:  # per round: each contestant's CPU per request over the first one's
            base = [s["cpu_ms_per_request"] for s in slices[names[0]][kind]]
            ratios = {
                n: [round(s["cpu_ms_per_request"] / b, 3) for s, b in zip(slices[n][kind], base, strict=True)]
                for n in names[1:]
            }
            out[kind]["cpu_ratio_to_" + names[0]] = ratios
            out[kind]["median_cpu_ratio_to_" + names[0]] = {
                n: round(statistics.median(v), 3) for n, v in ratios.items()
            }
    out["rounds"], out["slice_s"] = (args.interleave, args.slice) if args.interleave else (1, args.seconds)
    print(json.dumps(out))
    if any(bad.values()):
        raise SystemExit(f"non-2xx answers: {bad}")


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--sync", default="FULL")
    ap.add_argument("--with-workers", action="store_true")
    ap.add_argument("--wrk", action="store_true", help="load from wrk: create, then poll, for --seconds each")
    ap.add_argument("--seconds", type=int, default=10, help="--wrk: seconds per phase")
    ap.add_argument("--connections", type=int, default=32, help="--wrk: open connections")
    ap.add_argument("--interleave", type=int, default=0, metavar="ROUNDS", help="--wrk: rotate servers in slices")
    ap.add_argument("--slice", type=int, default=4, help="--wrk --interleave: seconds per phase per round")
    ap.add_argument("--runapi-src", action="append", default=[], metavar="NAME=PATH", help="--wrk: a server per src")
    ap.add_argument("--callback-url", help="--wrk: creates name this callback_url (its checks join the create path)")
    args = ap.parse_args()
    if args.callback_url:
        global BODY
        BODY = json.dumps({**json.loads(BODY), "callback_url": args.callback_url}, separators=(",", ":"))
    if args.wrk:
        return wrk_main(args)
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
