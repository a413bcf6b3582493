"""Scale-out load test: API processes and task workers on PostgreSQL + Redis, per process count.

For each configuration `AxW` (A API processes from `runapi serve --workers A --no-task-workers`, W separate
`runapi worker` processes), on a fresh database:
  1. create: wrk POSTs tasks with a callback_url for --seconds (sustained creation; workers run meanwhile);
  2. poll: wrk GETs the created tasks (round robin over their ids) for --seconds;
  3. drain: until every task is finished and its callback has arrived at a local receiver (bounded).
Figures: create and poll requests/s with p50/p99, tasks finished per second, callbacks per second, and our
processes' CPU ms per request in each phase (workers included: they run meanwhile).

The task is Suno lyrics on the sandbox (~5 ms of generation), so the figures measure the platform (HTTP,
database, queue, callbacks), not media synthesis. PostgreSQL and Redis come from scripts/ci-services.sh in a
directory of their own, with durability back on (the test cluster turns fsync off).

Usage: python bench/scaleout.py [--configs 1x1,2x2] [--seconds 10] [--connections 32]      Prints one JSON object.
Needs wrk and the PostgreSQL/Redis Debian packages (`scripts/ci-services.sh install`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from llm_gateway import cpu_seconds, free_port, healthy, tree
from wrkload import post_script, run_wrk

KEY = "rk-bench-" + "s" * 40
PATH = "/api/v1/suno/generate_lyrics"


class Receiver:
    """Counts callbacks (by X-Callback-Id, so a retry is not counted twice) and notes when they came."""

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.times: list[float] = []
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    cid = self.headers.get("X-Callback-Id") or str(uuid.uuid4())
                    if cid not in outer.ids:
                        outer.ids.add(cid)
                        outer.times.append(time.monotonic())
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()


def services(workdir: str) -> tuple[str, str]:
    """A PostgreSQL + Redis pair of our own (durable PostgreSQL), as (admin URL, redis URL)."""
    env = {
        **os.environ,
        "RUNAPI_SERVICES_DIR": workdir,
        "RUNAPI_PG_PORT": str(free_port()),
        "RUNAPI_REDIS_PORT": str(free_port()),
    }
    script = os.path.join(ROOT, "scripts", "ci-services.sh")
    out = subprocess.run([script, "start"], env=env, capture_output=True, text=True, check=True).stdout
    found = dict(re.findall(r"export (\w+)='([^']*)'", out))
    pg, redis = found["RUNAPI_SERVICES_PG_URL"], found["RUNAPI_SERVICES_REDIS_URL"]
    asyncio.run(
        _sql(
            pg,
            "ALTER SYSTEM SET fsync = on",
            "ALTER SYSTEM SET synchronous_commit = on",
            "ALTER SYSTEM SET full_page_writes = on",
            "SELECT pg_reload_conf()",
        )
    )
    return pg, redis


def stop_services(workdir: str) -> None:
    env = {**os.environ, "RUNAPI_SERVICES_DIR": workdir}
    with open(os.path.join(workdir, "env")) as f:
        env.update(re.findall(r"export (\w+)='([^']*)'", f.read()))
    subprocess.run([os.path.join(ROOT, "scripts", "ci-services.sh"), "stop"], env=env, check=False)


async def _sql(admin_url: str, *statements: str):
    import asyncpg
    from sqlalchemy.engine import make_url

    u = make_url(admin_url)
    conn = await asyncpg.connect(host=u.host, port=u.port, user=u.username, database=u.database)
    try:
        out = None
        for s in statements:
            out = await conn.fetch(s)
        return out
    finally:
        await conn.close()


def fresh_database(admin_url: str) -> str:
    name = f"bench_{uuid.uuid4().hex[:12]}"
    asyncio.run(_sql(admin_url, f'CREATE DATABASE "{name}"'))
    return admin_url.rsplit("/", 1)[0] + "/" + name


def wrk(url: str, seconds: int, connections: int, script: str, key: str) -> dict:
    return run_wrk(url, seconds, connections, script, {"Authorization": f"Bearer {key}"})


def run_config(api: int, workers: int, admin_url: str, redis_url: str, args: argparse.Namespace) -> dict:
    receiver = Receiver()
    data = tempfile.mkdtemp(prefix="scaleout-")
    port = free_port()
    env = {
        **os.environ,
        "RUNAPI_DATABASE_URL": fresh_database(admin_url),
        "RUNAPI_REDIS_URL": redis_url,
        "RUNAPI_DATA_DIR": data,
        "RUNAPI_BOOTSTRAP_API_KEY": KEY,
        "RUNAPI_BOOTSTRAP_CREDITS_CENTS": str(10**12),
        "RUNAPI_ALLOW_PRIVATE_NETWORK": "true",
        "RUNAPI_WORKER_CONCURRENCY": str(args.worker_concurrency),
        "RUNAPI_ACCESS_LOG": "false",
    }
    cli = [sys.executable, "-m", "runapi.cli"]
    procs = [
        subprocess.Popen(
            [*cli, "serve", "--port", str(port), "--workers", str(api), "--no-task-workers", "--log-level", "warning"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    base = f"http://127.0.0.1:{port}"
    try:
        healthy(base + "/health")
        procs += [
            subprocess.Popen(
                [*cli, "worker", "--log-level", "warning"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(workers)
        ]
        time.sleep(2)  # workers connected
        body = json.dumps({"prompt": "a song about queues", "callback_url": receiver.url})
        dsn = env["RUNAPI_DATABASE_URL"]

        def cpu() -> float:
            return sum(cpu_seconds(p.pid) for p in procs)  # PostgreSQL's and Redis's own CPU not included

        cpu0, t0 = cpu(), time.monotonic()
        create = wrk(base + PATH, args.seconds, args.connections, post_script(body), KEY)
        cpu1 = cpu()
        ids = [r[0] for r in asyncio.run(_sql(dsn, "SELECT id FROM tasks ORDER BY created_at LIMIT 5000"))]
        lua_ids = ",".join(f'"{i}"' for i in ids)
        poll = wrk(
            base + PATH,
            args.seconds,
            args.connections,
            f"ids = {{{lua_ids}}}\nn = 0\nrequest = function()\n  n = n % #ids + 1\n"
            f"  return wrk.format('GET', '{PATH}/' .. ids[n])\nend\n",
            KEY,
        )
        cpu2 = cpu()
        created = asyncio.run(_sql(dsn, "SELECT count(*) FROM tasks"))[0][0]  # incl. requests wrk cut off
        deadline = time.monotonic() + (args.drain_timeout if workers else 0)  # no workers: API figures only
        while len(receiver.ids) < created and time.monotonic() < deadline:
            time.sleep(0.2)
        t_end = receiver.times[-1] if receiver.times else time.monotonic()
        done = len(receiver.ids)
        after_create = [t for t in receiver.times if t > t0 + args.seconds]
        return {
            "api_processes": api,
            "worker_processes": workers,
            "create": create,
            "poll": poll,
            "tasks_created": created,
            "callbacks_received": done,
            "tasks_finished_per_s": round(done / max(t_end - t0, 1e-9), 1),
            "callbacks_per_s_after_creation": round(len(after_create) / max(t_end - (t0 + args.seconds), 1e-9), 1)
            if after_create
            else 0,
            # all our processes (API and workers) during each phase, per request of that phase
            "cpu_ms_per_create": round((cpu1 - cpu0) * 1000 / max(create["requests"], 1), 2),
            "cpu_ms_per_poll": round((cpu2 - cpu1) * 1000 / max(poll["requests"], 1), 2),
        }
    finally:
        for p in procs:
            for pid in reversed(tree(p.pid)):
                try:
                    os.kill(pid, 15)
                except ProcessLookupError:
                    pass
        for p in procs:
            p.wait(timeout=30)
        receiver.stop()
        shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--configs", default="1x1,2x2", help="APIxWORKERS process counts, comma separated")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--worker-concurrency", type=int, default=16)
    ap.add_argument("--drain-timeout", type=float, default=300)
    args = ap.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    workdir = tempfile.mkdtemp(prefix="scaleout-services-")
    try:
        admin_url, redis_url = services(workdir)
        results = []
        for config in args.configs.split(","):
            api, workers = (int(n) for n in config.lower().split("x"))
            results.append(run_config(api, workers, admin_url, redis_url, args))
    finally:
        stop_services(workdir)
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        json.dumps(
            {
                "benchmark": "scaleout",
                "seconds": args.seconds,
                "connections": args.connections,
                "database": "postgresql (fsync on)",
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()
