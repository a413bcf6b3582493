"""`runapi serve` start-up cost, as a newcomer meets it: spawn to the first 200 of /health (wall time, and the
CPU time the server used until then, which other load on the machine disturbs less), and the idle memory
(RSS of the process tree) a few seconds later, on a fresh data directory (first start: migrations, bootstrap
account) and again on the same directory (a restart). Also lists which heavy media libraries (PyAV, numpy,
Pillow) the idle server has loaded (/proc/<pid>/maps), since those are most of the idle RSS.

Usage: python bench/serve_startup.py [--runs 3] [--idle-seconds 3] [--runapi PATH] [-- extra serve options]
(--runapi: the `runapi` executable to measure, default this interpreter's `-m runapi.cli`). Prints one JSON
object; each figure is the median of --runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from llm_gateway import cpu_seconds, free_port, healthy, rss_mb, tree

HEAVY = {"av": "/av/", "numpy": "/numpy/", "PIL": "/PIL/"}


def loaded_heavy(pid: int) -> list[str]:
    try:
        maps = open(f"/proc/{pid}/maps").read()
    except OSError:
        return []
    return sorted(name for name, marker in HEAVY.items() if marker in maps)


def start(cmd: list[str], data: str, idle_seconds: float) -> dict:
    port = free_port()
    env = {**os.environ, "RUNAPI_DATA_DIR": data}
    t0 = time.perf_counter()
    proc = subprocess.Popen([*cmd, "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        healthy(f"http://127.0.0.1:{port}/health")
        first_200 = time.perf_counter() - t0
        cpu = cpu_seconds(proc.pid)  # steadier than the wall time on a shared machine
        time.sleep(idle_seconds)
        return {
            "first_200_s": first_200,
            "cpu_s_to_first_200": cpu,
            "idle_rss_mb": rss_mb(proc.pid),
            "heavy_loaded": loaded_heavy(proc.pid),
        }
    finally:
        for p in reversed(tree(proc.pid)):
            try:
                os.kill(p, 15)
            except ProcessLookupError:
                pass
        proc.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--idle-seconds", type=float, default=3.0)
    ap.add_argument("--runapi", default=None, help="the runapi executable (default: python -m runapi.cli)")
    ap.add_argument("extra", nargs="*", help="extra `runapi serve` options (after --)")
    args = ap.parse_args()
    cmd = [args.runapi] if args.runapi else [sys.executable, "-m", "runapi.cli"]
    cmd += ["serve", *args.extra]
    fresh, restart = [], []
    with tempfile.TemporaryDirectory() as root:
        for i in range(args.runs):
            data = os.path.join(root, f"d{i}")
            fresh.append(start(cmd, data, args.idle_seconds))
            restart.append(start(cmd, data, args.idle_seconds))

    def summary(runs: list[dict]) -> dict:
        return {
            "first_200_s": round(statistics.median(r["first_200_s"] for r in runs), 2),
            "cpu_s_to_first_200": round(statistics.median(r["cpu_s_to_first_200"] for r in runs), 2),
            "idle_rss_mb": round(statistics.median(r["idle_rss_mb"] for r in runs), 1),
            "heavy_loaded": runs[-1]["heavy_loaded"],
        }

    print(json.dumps({"command": cmd, "fresh_data_dir": summary(fresh), "restart": summary(restart)}))


if __name__ == "__main__":
    main()
