"""`runapi serve` and `runapi worker`."""

from __future__ import annotations

import asyncio
import logging
import signal

import click

from ..settings import Settings


@click.command()
@click.option("--host", default=None, help="Bind address (RUNAPI_HOST, default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (RUNAPI_PORT, default 8000).")
@click.option("--no-workers", is_flag=True, help="Serve the API only; run `runapi worker` separately.")
@click.option("--log-level", default="info")
def serve(host: str | None, port: int | None, no_workers: bool, log_level: str) -> None:
    """Run the API server (with in-process workers unless --no-workers)."""
    import uvicorn

    from ..api.app import create_app

    overrides = {"run_workers": False} if no_workers else {}
    settings = Settings(**overrides)
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    uvicorn.run(create_app(settings), host=host or settings.host, port=port or settings.port,
                log_level=log_level, proxy_headers=True)


@click.command()
@click.option("--log-level", default="info")
def worker(log_level: str) -> None:
    """Run task and callback workers without the API."""
    from ..api.runtime import Runtime

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")

    async def run() -> None:
        rt = await Runtime.start(Settings(), run_workers=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        click.echo(f"runapi worker {rt.worker.owner if rt.worker else ''} running")
        await stop.wait()
        await rt.stop()

    asyncio.run(run())
