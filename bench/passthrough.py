"""The reference point for gateway overhead: a bare aiohttp pass-through (no auth, limits, billing or logging)
that forwards POST /v1/chat/completions to the upstream and returns its answer; a streamed answer
(`"stream":true`) is relayed as it arrives, one write per upstream read.

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

    async def forward(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        async with request.app["http"].post(
            f"{upstream}/chat/completions", data=body, headers={"content-type": "application/json"}
        ) as resp:
            if not resp.headers.get("content-type", "").startswith("text/event-stream"):
                return web.Response(body=await resp.read(), status=resp.status, content_type="application/json")
            out = web.StreamResponse(status=resp.status, headers={"content-type": "text/event-stream"})
            await out.prepare(request)
            async for chunk in resp.content.iter_any():
                await out.write(chunk)
            await out.write_eof()
            return out

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
