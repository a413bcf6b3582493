"""How fast the task workers finish cheap tasks: a real `runapi serve` process on 127.0.0.1, SQLite.

"Cheap" is POST /api/v1/suno/generate_lyrics on the sandbox: a text-only result (no file stored), so what is
measured is the worker path (claim, submit, poll, finish with settlement, usage row and final event), not
generation. N tasks are created once through the API with the workers off (a template data dir); each run
copies the template, starts the server with workers on but every task due in the far future, finishes 50 of
them to warm up (the first loads the generators), then makes the rest due at once and measures wall time and
the server's CPU until all are finished.

Before/after: `--runapi-src NAME=PATH` (repeatable) runs the server with PYTHONPATH=PATH; the runs interleave
round by round, and the JSON gives medians per source and per-round ratios against the first one.

Usage: python bench/task_finish.py [--tasks 2000] [--rounds 3] [--concurrency 64] [--sync FULL]
       [--runapi-src before=/work/main/src --runapi-src after=src]
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
import sys
import tempfile
import time

import httpx
from runapi_proc import free_port, start_runapi
from tasks_throughput import KEY, cpu_seconds

PATH = "/api/v1/suno/generate_lyrics"
WARMUP = 50  # tasks finished before measuring (of --tasks)


def start(data_dir: str, port: int, sync: str, workers: bool, concurrency: int, src: str | None) -> subprocess.Popen:
    env = {
        "RUNAPI_DATA_DIR": data_dir,
        "RUNAPI_BOOTSTRAP_API_KEY": KEY,
        "RUNAPI_BOOTSTRAP_CREDITS_CENTS": str(10**9),
        "RUNAPI_SQLITE_SYNCHRONOUS": sync,
        "RUNAPI_RUN_WORKERS": "true" if workers else "false",
        "RUNAPI_WORKER_CONCURRENCY": str(concurrency),
        "RUNAPI_WORKER_IDLE_POLL_SECONDS": "0.05",
    }
    return start_runapi(port, env, src)


async def create(port: int, n: int) -> None:
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}",
        limits=httpx.Limits(max_connections=32),
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=60,
    ) as c:
        counter = iter(range(n))

        async def one() -> None:
            for i in counter:
                r = await c.post(PATH, json={"prompt": f"bench {i}"})
                if r.status_code != 202:
                    raise SystemExit(f"create answered {r.status_code}: {r.text[:200]}")

        await asyncio.gather(*(one() for _ in range(32)))


def make_template(n: int, sync: str, src: str | None) -> str:
    data_dir = tempfile.mkdtemp(prefix="task-finish-")
    port = free_port()
    proc = start(data_dir, port, sync, False, 8, src)
    try:
        asyncio.run(create(port, n))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return data_dir


def set_due(db: str, at: float, limit: int = -1) -> None:
    """Make (up to `limit`) queued tasks due at `at`."""
    conn = sqlite3.connect(db, timeout=30)
    try:
        conn.execute(
            "UPDATE tasks SET next_run_at = ? WHERE id IN (SELECT id FROM tasks WHERE state = 'queued' LIMIT ?)",
            (at, limit),
        )
        conn.commit()
    finally:
        conn.close()


def wait_finished(reader: sqlite3.Connection, n: int, t0: float) -> None:
    done = 0
    while done < n:
        time.sleep(0.1)
        done = finished(reader)
        if time.perf_counter() - t0 > 600:
            raise SystemExit(f"only {done} of {n} finished in 600 s")


def finished(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM tasks WHERE state IN ('completed', 'failed')").fetchone()[0])


def run_once(template: str, n: int, sync: str, concurrency: int, src: str | None, profile: str | None = None) -> dict:
    data_dir = tempfile.mkdtemp(prefix="task-finish-run-")
    shutil.rmtree(data_dir)
    shutil.copytree(template, data_dir)
    db = os.path.join(data_dir, "runapi.db")
    set_due(db, time.time() + 10**6)  # nothing is due while the server starts
    proc = start(data_dir, free_port(), sync, True, concurrency, src)
    try:
        # Warm-up, not measured: the first tasks load the sandbox's generators (and the media libraries)
        reader = sqlite3.connect(db, timeout=30)
        set_due(db, 0, WARMUP)
        wait_finished(reader, WARMUP, time.perf_counter())
        time.sleep(0.5)
        n -= WARMUP
        cpu0, t0 = cpu_seconds(proc.pid), time.perf_counter()
        spy = None
        if profile:  # py-spy (beside this Python) samples the server while it finishes the tasks
            spy_bin = os.path.join(os.path.dirname(sys.executable), "py-spy")
            spy = subprocess.Popen(
                [spy_bin, "record", "--pid", str(proc.pid), "-r", "500", "--format", "speedscope", "-o", profile],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(0.5)
            cpu0, t0 = cpu_seconds(proc.pid), time.perf_counter()
        set_due(db, 0)
        wait_finished(reader, n + WARMUP, t0)
        wall, cpu = time.perf_counter() - t0, cpu_seconds(proc.pid) - cpu0
        failed = int(reader.execute("SELECT count(*) FROM tasks WHERE state = 'failed'").fetchone()[0])
        reader.close()
        if spy is not None:
            spy.send_signal(2)  # SIGINT: py-spy writes its profile and exits
            spy.wait(timeout=60)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)
    return {
        "seconds": round(wall, 3),
        "finished_per_s": round(n / wall, 1),
        "server_cpu_ms_per_task": round(cpu * 1000 / n, 3),
        "failed": failed,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=64, help="RUNAPI_WORKER_CONCURRENCY")
    ap.add_argument("--sync", default="FULL")
    ap.add_argument("--profile", help="write a py-spy speedscope profile of the first run here")
    ap.add_argument("--runapi-src", action="append", default=[], help="NAME=PATH (repeatable); default: this one")
    args = ap.parse_args()
    sources = [tuple(s.split("=", 1)) for s in args.runapi_src] or [("current", None)]
    template = make_template(args.tasks, args.sync, sources[0][1])
    runs: dict[str, list[dict]] = {name: [] for name, _ in sources}
    try:
        for i in range(args.rounds):
            for j, (name, src) in enumerate(sources):
                profile = args.profile if i == 0 and j == 0 else None
                runs[name].append(run_once(template, args.tasks, args.sync, args.concurrency, src, profile))
    finally:
        shutil.rmtree(template, ignore_errors=True)
    out: dict = {
        "benchmark": "task_finish",
        "action": PATH,
        "tasks": args.tasks,
        "measured_tasks": args.tasks - WARMUP,
        "worker_concurrency": args.concurrency,
        "sqlite_synchronous": args.sync,
        "runs": runs,
        "median": {
            name: {
                "finished_per_s": statistics.median(r["finished_per_s"] for r in rs),
                "server_cpu_ms_per_task": statistics.median(r["server_cpu_ms_per_task"] for r in rs),
            }
            for name, rs in runs.items()
        },
    }
    if len(sources) > 1:
        base = sources[0][0]
        out["ratios_vs_" + base] = {
            name: {
                "finished_per_s": [round(r["finished_per_s"] / b["finished_per_s"], 2) for r, b in zip(rs, runs[base])],
                "server_cpu_ms_per_task": [
                    round(r["server_cpu_ms_per_task"] / b["server_cpu_ms_per_task"], 2) for r, b in zip(rs, runs[base])
                ],
            }
            for name, rs in runs.items()
            if name != base
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
