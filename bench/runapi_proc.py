"""Starts `runapi serve` for a benchmark: a subprocess on 127.0.0.1 with the given environment (on top of this
one), from another source tree when asked (`src`: before/after comparisons), returned once /health answers.
RUNAPI_BENCH_LOG_LEVEL=info measures with the access log on (its lines go to /dev/null); default warning."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_runapi(port: int, env: dict[str, str], src: str | None = None) -> subprocess.Popen:
    full = {**os.environ, **env, **({"PYTHONPATH": os.path.abspath(src)} if src else {})}
    level = os.environ.get("RUNAPI_BENCH_LOG_LEVEL", "warning")
    proc = subprocess.Popen(
        [sys.executable, "-m", "runapi.cli", "serve", "--port", str(port), "--log-level", level],
        env=full,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL if level in ("info", "debug") else None,  # an access line per request
    )
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")
