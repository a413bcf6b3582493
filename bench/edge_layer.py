"""CPU per request of the request's edge alone, in process: the app's middleware stack, routing and a plain
response, no server and no socket. `--access on` (the default handler: access lines without a LogRecord),
`logging` (a filter on the access logger: every line through logging, as before that fast path) or `off`.
Compare trees with PYTHONPATH: `PYTHONPATH=src python bench/edge_layer.py --access on`."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from runapi.app import ObservedStarlette, server_error
from runapi.observability.logs import configure_logging


async def ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("fine")


async def run(requests: int) -> float:
    app = ObservedStarlette(routes=[Route("/ok", ok)], exception_handlers={Exception: server_error})
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": "/ok",
        "raw_path": b"/ok",
        "query_string": b"",
        "headers": [],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("bench", 80),
        "client": ("127.0.0.1", 1),
        "root_path": "",
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        pass

    for _ in range(2000):  # warm-up: metric children, caches
        await app(dict(scope), receive, send)
    started = time.process_time()
    for n in range(requests):
        await app(dict(scope), receive, send)
        if n % 8 == 0:  # a loop turn now and then, as a served process has (the access lines go out per turn)
            await asyncio.sleep(0)
    return (time.process_time() - started) / requests


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--access", choices=("on", "logging", "off"), default="on")
    ap.add_argument("--format", choices=("text", "json"), default="text")
    ap.add_argument("--requests", type=int, default=30000)
    args = ap.parse_args()
    with open(os.devnull, "w") as sink:
        configure_logging(args.format, "INFO", sink)
        access = logging.getLogger("runapi.access")
        if args.access == "logging":
            access.addFilter(lambda record: True)
        elif args.access == "off":
            access.setLevel(logging.WARNING)
        seconds = asyncio.run(run(args.requests))
        logging.shutdown()
    print(json.dumps({"benchmark": "edge_layer", "access": args.access, "us_per_request": round(seconds * 1e6, 2)}))


if __name__ == "__main__":
    main()
