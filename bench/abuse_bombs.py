"""CPU and memory bombs against a real `runapi serve` subprocess (issue 11, item 3): the server's peak RSS and
the worst `/health` latency while they run, and how each bomb ends.

  * image bomb: a small PNG whose header declares SIDE×SIDE pixels (default 14000², ~190 KB), given to N Topaz
    image upscales at once (default 4): uploaded to our own storage, and served from a local URL;
  * Topaz 4× of a 2 s 1080p clip (and 2×, which lands exactly on 4K);
  * /v1/embeddings with many inputs.

Usage: PYTHONPATH=src python bench/abuse_bombs.py [--side 14000] [--bombs 4] [--embeddings 100000]
Prints one JSON object. Every wait is bounded (--timeout seconds per scenario).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

import httpx

KEY = "rk-bench-" + "b" * 40


def bomb_png(side: int) -> bytes:
    """A valid greyscale PNG of side×side black pixels, compressed row by row (never held decoded)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    comp = zlib.compressobj(9)
    row = b"\x00" * (side + 1)  # filter byte + side grey pixels
    idat = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def clip(width: int, height: int, seconds: float) -> bytes:
    from runapi.providers.sandbox import media

    return media.encode_video(b"bench-seed-0123456789abcdef", width, height, seconds)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


class Watch:
    """Samples the server's RSS and /health latency every 50 ms while a scenario runs."""

    def __init__(self, url: str, pid: int):
        self.url, self.pid = url, pid
        self.stop = threading.Event()
        self.peak_rss_kb = 0
        self.health_max = 0.0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        with httpx.Client(timeout=120) as c:
            while not self.stop.is_set():
                self.peak_rss_kb = max(self.peak_rss_kb, rss_kb(self.pid))
                t0 = time.perf_counter()
                try:
                    c.get(self.url + "/health")
                except httpx.HTTPError:
                    pass
                self.health_max = max(self.health_max, time.perf_counter() - t0)
                self.stop.wait(0.05)

    def __enter__(self):
        self.peak_rss_kb = rss_kb(self.pid)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(130)


def serve_bytes(data: bytes) -> str:
    """A local HTTP server answering every GET with `data` (input URLs; RUNAPI_ALLOW_PRIVATE_NETWORK)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{httpd.server_address[1]}"


def upload(c: httpx.Client, data: bytes, name: str) -> str:
    r = c.post("/api/v1/files", files={"file": (name, data)})
    r.raise_for_status()
    return r.json()["url"]


def wait_all(c: httpx.Client, path: str, ids: list[str], timeout: float) -> list[dict]:
    deadline, out = time.time() + timeout, {}
    while len(out) < len(ids) and time.time() < deadline:
        for i in ids:
            if i not in out:
                body = c.get(f"{path}/{i}").json()
                if body.get("status") != "processing":
                    out[i] = body
        time.sleep(0.2)
    return [out.get(i, {"status": "still processing after timeout"}) for i in ids]


def scenario(c: httpx.Client, url: str, pid: int, fn) -> dict:
    base = rss_kb(pid)
    t0 = time.perf_counter()
    with Watch(url, pid) as w:
        outcome = fn()
    return {
        "seconds": round(time.perf_counter() - t0, 2),
        "rss_before_mb": round(base / 1024),
        "peak_rss_mb": round(w.peak_rss_kb / 1024),
        "health_max_seconds": round(w.health_max, 3),
        **outcome,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--side", type=int, default=14000)
    ap.add_argument("--bombs", type=int, default=4)
    ap.add_argument("--embeddings", type=int, default=100_000)
    ap.add_argument("--timeout", type=float, default=300)
    args = ap.parse_args()
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = {
            **os.environ,
            "RUNAPI_DATA_DIR": tmp,
            "RUNAPI_BOOTSTRAP_API_KEY": KEY,
            "RUNAPI_BOOTSTRAP_CREDITS_CENTS": "1000000",
            "RUNAPI_ALLOW_PRIVATE_NETWORK": "true",
            "RUNAPI_SQLITE_SYNCHRONOUS": "NORMAL",
            "RUNAPI_ACCESS_LOG": "false",
        }
        with open(Path(tmp) / "server.log", "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "runapi.cli", "serve", "--port", str(port), "--log-level", "warning"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        url = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=600) as c:
                for _ in range(200):
                    try:
                        if c.get("/health").status_code == 200:
                            break
                    except httpx.HTTPError:
                        time.sleep(0.1)
                png = bomb_png(args.side)
                bomb_url = upload(c, png, "bomb.png")

                host = serve_bytes(png)

                def image_bomb(source_url: str) -> dict:
                    path = "/api/v1/topaz/upscale_image"
                    answers = [
                        c.post(
                            path,
                            json={"model": "topaz-upscale-image", "source_image_url": source_url, "upscale_factor": 1},
                        )
                        for _ in range(args.bombs)
                    ]
                    ids = [a.json()["id"] for a in answers if a.status_code == 202]
                    done = wait_all(c, path, ids, args.timeout)
                    return {
                        "png_bytes": len(png),
                        "declared": f"{args.side}x{args.side}",
                        "bombs": args.bombs,
                        "create_statuses": [a.status_code for a in answers],
                        "create_errors": sorted({a.json().get("error", "") for a in answers if a.status_code != 202}),
                        "task_outcomes": sorted({d.get("status") + ": " + str(d.get("error", ""))[:120] for d in done}),
                    }

                results["image_bomb_uploaded"] = scenario(c, url, proc.pid, lambda: image_bomb(bomb_url))
                results["image_bomb_by_url"] = scenario(c, url, proc.pid, lambda: image_bomb(f"{host}/bomb.png"))

                def topaz(factor: int) -> dict:
                    video_url = upload(c, clip(1920, 1080, 2.0), "clip.mp4")
                    path = "/api/v1/topaz/upscale_video"
                    a = c.post(
                        path,
                        json={"model": "topaz-upscale-video", "source_video_url": video_url, "upscale_factor": factor},
                    )
                    if a.status_code != 202:
                        return {"create_status": a.status_code, "error": a.json().get("error")}
                    done = wait_all(c, path, [a.json()["id"]], args.timeout)[0]
                    return {"create_status": a.status_code, "status": done.get("status"), "error": done.get("error")}

                results["topaz_4x_2s_1080p"] = scenario(c, url, proc.pid, lambda: topaz(4))
                results["topaz_2x_2s_1080p"] = scenario(c, url, proc.pid, lambda: topaz(2))

                def long_topaz() -> dict:
                    video_url = upload(c, clip(320, 240, 120.0), "long.mp4")
                    a = c.post(
                        "/api/v1/topaz/upscale_video",
                        json={"model": "topaz-upscale-video", "source_video_url": video_url, "upscale_factor": 1},
                    )
                    if a.status_code != 202:
                        return {"create_status": a.status_code, "error": a.json().get("error")}
                    done = wait_all(c, "/api/v1/topaz/upscale_video", [a.json()["id"]], args.timeout)[0]
                    return {"create_status": 202, "status": done.get("status"), "error": done.get("error")}

                results["topaz_120s_input"] = scenario(c, url, proc.pid, long_topaz)

                def embeddings() -> dict:
                    r = c.post(
                        "/v1/embeddings",
                        json={"model": "text-embedding-3-small", "input": ["hello world"] * args.embeddings},
                    )
                    return {
                        "inputs": args.embeddings,
                        "status": r.status_code,
                        "response_mb": round(len(r.content) / 2**20, 1),
                        "error": (r.json().get("error") or {}).get("message") if r.status_code != 200 else None,
                    }

                results["embeddings"] = scenario(c, url, proc.pid, embeddings)
                args.embeddings = 2048  # the most a request may now ask for
                results["embeddings_2048"] = scenario(c, url, proc.pid, embeddings)
                results["server_peak_rss_mb_overall"] = round(rss_kb(proc.pid, "VmHWM") / 1024)
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
