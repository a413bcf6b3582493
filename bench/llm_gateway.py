"""LLM gateway overhead against a fast fake upstream, all on 127.0.0.1: requests/s, p50/p99 latency, server CPU
ms per request, idle and peak memory, start-up time; plus the same load straight at the upstream (the
pass-through ceiling). Load from wrk (Debian package `wrk`); bounded by --seconds.

Usage: python bench/llm_gateway.py [--seconds 10] [--connections 32]      Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import httpx

KEY = "rk-bench-" + "b" * 40
BODY = '{"model":"gpt-5.2","messages":[{"role":"user","content":"hello"}],"max_tokens":64}'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, headers: dict | None = None, timeout: float = 60) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        try:
            if httpx.get(url, headers=headers, timeout=1).status_code < 500:
                return time.perf_counter() - t0
        except httpx.HTTPError:
            time.sleep(0.02)
    raise SystemExit(f"{url} did not come up")


def rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url: str, seconds: int, connections: int, headers: dict) -> dict:
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write(f"wrk.method = 'POST'\nwrk.body = '{BODY}'\nwrk.headers['Content-Type'] = 'application/json'\n")
    script.close()
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script.name]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=seconds + 30).stdout
    os.unlink(script.name)

    def ms(label: str) -> float | None:
        m = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out)
        if not m:
            return None
        return round(float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)], 3)

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": round(rps), "requests": total, "p50_ms": ms("50"), "p99_ms": ms("99"),
            "non_2xx": int(errors.group(1)) if errors else 0}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    args = ap.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    up_port, gw_port = free_port(), free_port()
    here = os.path.dirname(os.path.abspath(__file__))
    upstream = subprocess.Popen([sys.executable, os.path.join(here, "fast_upstream.py"), str(up_port)])
    procs = [upstream]
    try:
        wait_http(f"http://127.0.0.1:{up_port}/")
        with tempfile.TemporaryDirectory() as data:
            env = {**os.environ, "RUNAPI_DATA_DIR": data, "RUNAPI_BOOTSTRAP_API_KEY": KEY,
                   "RUNAPI_BOOTSTRAP_CREDITS_CENTS": str(10**10), "RUNAPI_RUN_WORKERS": "false",
                   "RUNAPI_LLM_UPSTREAMS": json.dumps([{"name": "fast", "base_url": f"http://127.0.0.1:{up_port}/v1",
                                                        "models": ["*"]}])}
            t0 = time.perf_counter()
            gw = subprocess.Popen([sys.executable, "-m", "runapi.cli", "serve", "--port", str(gw_port),
                                   "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL)
            procs.append(gw)
            wait_http(f"http://127.0.0.1:{gw_port}/health")
            startup = time.perf_counter() - t0
            time.sleep(1)
            idle = rss_mb(gw.pid)
            cpu0 = cpu_seconds(gw.pid)
            through = wrk(f"http://127.0.0.1:{gw_port}/v1/chat/completions", args.seconds, args.connections,
                          {"Authorization": f"Bearer {KEY}"})
            cpu = cpu_seconds(gw.pid) - cpu0
            peak = rss_mb(gw.pid)
            direct = wrk(f"http://127.0.0.1:{up_port}/v1/chat/completions", args.seconds, args.connections, {})
        print(json.dumps({"benchmark": "llm_gateway", "seconds": args.seconds, "connections": args.connections,
                          "gateway": {**through, "cpu_ms_per_request": round(cpu * 1000 / max(through["requests"], 1), 3),
                                      "idle_rss_mb": idle, "peak_rss_mb": peak, "startup_s": round(startup, 2)},
                          "upstream_direct": direct}))
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=30)


if __name__ == "__main__":
    main()
