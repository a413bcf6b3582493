"""The reference point for gateway overhead: a bare aiohttp pass-through (no auth, limits, billing or logging)
that forwards POST /v1/chat/completions to the upstream and returns its answer.

python bench/passthrough.py PORT UPSTREAM_BASE_URL"""

import sys

import aiohttp
from aiohttp import web


async def make_app(upstream: str) -> web.Application:
    app = web.Application()

    async def start(app: web.Application) -> None:
        app["http"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=500))

    async def stop(app: web.Application) -> None:
        await app["http"].close()

    async def forward(request: web.Request) -> web.Response:
        body = await request.read()
        async with request.app["http"].post(
            f"{upstream}/chat/completions", data=body, headers={"content-type": "application/json"}
        ) as resp:
            return web.Response(body=await resp.read(), status=resp.status, content_type="application/json")

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    app.router.add_post("/v1/chat/completions", forward)
    app.router.add_get("/health", lambda _r: web.Response(text="ok"))
    return app


if __name__ == "__main__":
    port, upstream = int(sys.argv[1]), sys.argv[2].rstrip("/")
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    web.run_app(make_app(upstream), host="127.0.0.1", port=port, print=None, access_log=None)
