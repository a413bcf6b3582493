"""Tenant starvation through slow input URLs (issue 11, item 1), against a real server process on 127.0.0.1.

tasks:   account A creates 8 nano_banana edit tasks whose input URL drips one byte every --interval seconds;
         then account B creates one quick text_to_image task. Measured: B's latency (create → completed),
         and when A's first task ended (how long a drip holds a worker slot).
uploads: A starts --uploads URL uploads from the drip host at once (more than the 100 connections of the
         shared outbound pool); then B uploads a small PNG from a fast host. Measured: B's status and latency.

Server settings are the defaults (8 worker slots, 30 s fetch timeout) unless given. Bounded: a drip lasts at
most --drip-seconds, every wait at most --limit seconds.

Usage: PYTHONPATH=src python bench/abuse_fetch.py [--interval 2] [--drip-seconds 60] [--limit 90]
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import httpx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from runapi_proc import free_port, start_runapi

from tests.support.drip import PNG, DripServer

KEY = "rk-bench-" + "a" * 40
EDIT = "/api/v1/nano_banana/edit_image"
T2I = "/api/v1/nano_banana/text_to_image"


def start(data_dir: str, port: int, extra_env: dict[str, str]) -> subprocess.Popen:
    env = {
        "RUNAPI_DATA_DIR": data_dir,
        "RUNAPI_BOOTSTRAP_API_KEY": KEY,
        "RUNAPI_BOOTSTRAP_CREDITS_CENTS": str(10**7),
        "RUNAPI_ALLOW_PRIVATE_NETWORK": "true",
        "RUNAPI_SQLITE_SYNCHRONOUS": "NORMAL",
        **extra_env,
    }
    return start_runapi(port, env)


def second_account(data_dir: str) -> str:
    from runapi.auth import admin
    from runapi.settings import Settings
    from runapi.store import Database

    async def go() -> str:
        db = Database(Settings(data_dir=data_dir).resolved_database_url, "NORMAL")
        try:
            made = await admin.create_account(db, "B", f"b{time.time_ns()}@example.com", 10**6)
            return (await admin.mint_key(db, made["account_id"], "api")).token
        finally:
            await db.dispose()

    return asyncio.run(go())


def fast_host() -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(PNG)))
            self.end_headers()
            self.wfile.write(PNG)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


def wait_done(c: httpx.Client, path: str, task_id: str, limit: float) -> tuple[str, float]:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit:
        status = c.get(f"{path}/{task_id}").json()["status"]
        if status != "processing":
            return status, time.perf_counter() - t0
        time.sleep(0.05)
    return "processing", time.perf_counter() - t0


def tasks_scenario(base: str, b_key: str, drip: DripServer, limit: float) -> dict:
    with (
        httpx.Client(base_url=base, headers={"Authorization": f"Bearer {KEY}"}, timeout=30) as a,
        httpx.Client(base_url=base, headers={"Authorization": f"Bearer {b_key}"}, timeout=30) as b,
    ):
        attack = [
            a.post(
                EDIT, json={"model": "nano-banana-edit", "prompt": "x", "source_image_urls": [f"{drip.url}/a{i}.png"]}
            ).json()["id"]
            for i in range(8)
        ]
        t_attack = time.perf_counter()
        for _ in range(200):  # until the attack holds slots (or 10 s)
            if drip.open >= 1:
                break
            time.sleep(0.05)
        held = drip.open
        quick = b.post(T2I, json={"model": "nano-banana", "prompt": "a quick cat"}).json()["id"]
        status, latency = wait_done(b, T2I, quick, limit)
        attack_states = [a.get(f"{EDIT}/{t}").json()["status"] for t in attack]
        first_end = None
        while time.perf_counter() - t_attack < limit:
            states = [a.get(f"{EDIT}/{t}").json() for t in attack]
            if any(s["status"] != "processing" for s in states):
                first_end = round(time.perf_counter() - t_attack, 2)
                break
            time.sleep(0.2)
        return {
            "other_task_status": status,
            "other_task_latency_s": round(latency, 3),
            "attack_slots_held_at_start": held,
            "attack_processing_when_other_done": attack_states.count("processing"),
            "attack_first_task_ended_after_s": first_end,
        }


def uploads_scenario(base: str, b_key: str, drip: DripServer, fast_url: str, n: int, limit: float) -> dict:
    statuses: list[int] = []

    async def flood() -> None:
        async with httpx.AsyncClient(
            base_url=base,
            headers={"Authorization": f"Bearer {KEY}"},
            timeout=limit,
            limits=httpx.Limits(max_connections=None),
        ) as a:

            async def one(i: int) -> None:
                try:
                    r = await a.post("/api/v1/files", json={"source": {"type": "url", "url": f"{drip.url}/u{i}"}})
                    statuses.append(r.status_code)
                except httpx.HTTPError:
                    statuses.append(0)

            await asyncio.gather(*(one(i) for i in range(n)))

    attacker = Thread(target=lambda: asyncio.run(flood()), daemon=True)
    attacker.start()
    before = drip.served
    t0 = time.perf_counter()
    while drip.served - before < n and time.perf_counter() - t0 < 3:  # the flood arrives (or is capped)
        time.sleep(0.05)
    arrived = drip.served - before
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {b_key}"}, timeout=limit) as b:
        t1 = time.perf_counter()
        try:
            resp = b.post("/api/v1/files", json={"source": {"type": "url", "url": f"{fast_url}/ok.png"}})
            status = resp.status_code
        except httpx.HTTPError:
            status = 0
        latency = time.perf_counter() - t1
    attacker.join(limit)
    counts: dict[str, int] = {}
    for s in statuses:
        counts[str(s)] = counts.get(str(s), 0) + 1
    return {
        "attack_uploads": n,
        "attack_fetches_reaching_host": arrived,
        "other_upload_status": status,
        "other_upload_latency_s": round(latency, 3),
        "attack_statuses": counts,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--interval", type=float, default=2.0, help="seconds between dripped bytes")
    ap.add_argument("--drip-seconds", type=float, default=60.0, help="a drip ends after this")
    ap.add_argument("--limit", type=float, default=90.0, help="longest wait for any outcome")
    ap.add_argument("--uploads", type=int, default=110)
    ap.add_argument("--env", action="append", default=[], help="extra RUNAPI_X=value for the server")
    args = ap.parse_args()
    extra = dict(e.split("=", 1) for e in args.env)
    out: dict = {"interval_s": args.interval, "drip_seconds": args.drip_seconds, "server_env": extra}
    for scenario in ("tasks", "uploads"):
        drip = DripServer(interval=args.interval, max_seconds=args.drip_seconds)
        httpd, fast_url = fast_host()
        with tempfile.TemporaryDirectory() as data_dir:
            port = free_port()
            proc = start(data_dir, port, extra)
            try:
                b_key = second_account(data_dir)
                base = f"http://127.0.0.1:{port}"
                if scenario == "tasks":
                    out["tasks"] = tasks_scenario(base, b_key, drip, args.limit)
                else:
                    out["uploads"] = uploads_scenario(base, b_key, drip, fast_url, args.uploads, args.limit)
            finally:
                proc.terminate()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                drip.close()
                httpd.shutdown()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
