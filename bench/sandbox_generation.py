"""Sandbox generation time per media kind: the generator alone (no HTTP, no database), wall seconds per
output, median of N runs, one process. Inputs are served from 127.0.0.1.

Usage: python bench/sandbox_generation.py [--runs 3]    Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from runapi.catalog import get_catalog
from runapi.catalog.sandbox_schema import parse_sandbox
from runapi.net.safe_http import safe_client
from runapi.providers.base import TaskInput
from runapi.providers.sandbox import generators, samples
from runapi.providers.sandbox.base import Inputs

ACTION = get_catalog().action("nano_banana", "text_to_image")


class Files(BaseHTTPRequestHandler):
    def do_GET(self):
        data = samples.sample_bytes(self.path.rsplit(".", 1)[-1])
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def cases(host: str) -> dict[str, tuple[str, dict, dict]]:
    return {
        "image_png_1k": ("image", {"prompt": "a", "aspect_ratio": "1:1"}, {}),
        "image_png_4k": ("image", {"prompt": "a", "aspect_ratio": "1:1", "output_resolution": "4k"}, {}),
        "image_jpg_2k_16x9": (
            "image",
            {"prompt": "a", "aspect_ratio": "16:9", "output_resolution": "2k", "output_format": "jpg"},
            {},
        ),
        "image_edit_1k": ("image_edit", {"prompt": "a", "src": [f"{host}/a.png"]}, {"sources": "src"}),
        "image_upscale_4x": (
            "image_upscale",
            {"src": f"{host}/a.png", "f": 4},
            {"sources": "src", "factor_param": "f"},
        ),
        "video_5s_720p_audio": (
            "video",
            {"duration_seconds": 5, "output_resolution": "720p", "aspect_ratio": "16:9"},
            {"has_audio": True},
        ),
        "video_8s_1080p": ("video", {"duration_seconds": 8, "output_resolution": "1080p", "aspect_ratio": "16:9"}, {}),
        "video_extend_2s_plus_5s": (
            "video_from_source",
            {"v": f"{host}/a.mp4", "duration_seconds": 5},
            {"mode": "extend", "sources": "v"},
        ),
        "video_upscale_to_1080p": (
            "video_from_source",
            {"v": f"{host}/a.mp4", "output_resolution": "1080p"},
            {"mode": "upscale", "sources": "v"},
        ),
        "speech_200_chars_mp3": ("speech", {"text": "Hello from the sandbox. " * 8, "voice": "v1"}, {}),
        "sound_effect_10s": ("sound", {"text": "rain on a tin roof", "duration_seconds": 10}, {}),
        "transcribe_3s": ("speech_to_text", {"a": f"{host}/a.mp3"}, {"sources": "a"}),
        "suno_song_2_tracks": (
            "suno_music",
            {"vocal_mode": "auto_lyrics", "prompt": "lofi beat"},
            {"mode": "generate", "song_seconds": [30, 45], "max_song": 120},
        ),
    }


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Files)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    host = f"http://127.0.0.1:{httpd.server_address[1]}"
    results = {}
    async with safe_client(allow_private=True) as http:
        inputs = Inputs(http, None, 50 << 20)
        for name, (gen, params, spec) in cases(host).items():
            times, size = [], 0
            for i in range(args.runs):
                task = TaskInput(id=f"bench-{i}", action=ACTION, model=None, params={**params, "seed": i})
                t0 = time.perf_counter()
                done = await generators()[gen](inputs, task, parse_sandbox({"generator": gen, **spec}, name))
                times.append(time.perf_counter() - t0)
                size = sum(len(o.data) for o in done.outputs)
            results[name] = {"median_s": round(statistics.median(times), 3), "bytes": size}
    httpd.shutdown()
    print(json.dumps({"benchmark": "sandbox_generation", "runs": args.runs, "results": results}))


if __name__ == "__main__":
    asyncio.run(main())
