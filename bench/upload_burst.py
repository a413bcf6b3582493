"""One account's upload burst: N concurrent URL uploads of S MB each against a real server process on
127.0.0.1 (issue 11 item 4: "20 x 50 MB in 7 s, kept an hour"). The source is a local HTTP server handing out
a PNG header followed by padding (the type is sniffed from the header), so the figures measure our side.

Usage: python bench/upload_burst.py [--uploads 20] [--mb 10] [--concurrency 20]
Prints one JSON object: answers by status, wall time, and the bytes left stored under uploads/.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

KEY = "rk-bench-" + "b" * 40
PNG_HEADER = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def source_server(size: int) -> ThreadingHTTPServer:
    body = PNG_HEADER + b"\0" * (size - len(PNG_HEADER))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--uploads", type=int, default=20)
    ap.add_argument("--mb", type=float, default=10)
    ap.add_argument("--concurrency", type=int, default=20)
    args = ap.parse_args()
    size = int(args.mb * 1024 * 1024)
    src = source_server(size)
    with tempfile.TemporaryDirectory() as data_dir:
        port = free_port()
        env = {
            **os.environ,
            "RUNAPI_DATA_DIR": data_dir,
            "RUNAPI_BOOTSTRAP_API_KEY": KEY,
            "RUNAPI_ALLOW_PRIVATE_NETWORK": "true",
            "RUNAPI_RUN_WORKERS": "false",
            "RUNAPI_SQLITE_SYNCHRONOUS": "NORMAL",
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "runapi.cli", "serve", "--port", str(port), "--log-level", "warning"],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            url = f"http://127.0.0.1:{src.server_address[1]}/big.png"

            def one(_: int) -> int:
                resp = httpx.post(
                    f"http://127.0.0.1:{port}/api/v1/files",
                    timeout=120,
                    headers={"Authorization": f"Bearer {KEY}"},
                    json={"source": {"type": "url", "url": url}},
                )
                return resp.status_code

            started = time.perf_counter()
            with ThreadPoolExecutor(args.concurrency) as pool:
                statuses = list(pool.map(one, range(args.uploads)))
            wall = time.perf_counter() - started
            stored = (
                sum(p.stat().st_size for p in (Path(data_dir) / "files" / "uploads").rglob("*") if p.is_file())
                if (Path(data_dir) / "files" / "uploads").exists()
                else 0
            )
        finally:
            proc.terminate()
            proc.wait(timeout=20)
            src.shutdown()
    counts: dict[str, int] = {}
    for s in statuses:
        counts[str(s)] = counts.get(str(s), 0) + 1
    print(
        json.dumps(
            {
                "uploads": args.uploads,
                "mb_each": args.mb,
                "by_status": counts,
                "wall_seconds": round(wall, 2),
                "stored_mb": round(stored / 1024 / 1024, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
