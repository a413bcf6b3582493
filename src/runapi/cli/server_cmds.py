"""`runapi serve` and `runapi worker`."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click
from pydantic import ValidationError

from ..observability.logs import configure_logging
from ..observability.multiprocess import share_metrics_between_processes
from ..settings import ConfigFileError, Settings

if TYPE_CHECKING:
    from starlette.applications import Starlette

# log_config=None: uvicorn keeps our root handler, so its lines share the format; access_log=False: the app's
# RequestObserver writes the access line (with request id and duration), uvicorn must not write a second one.
UVICORN_LOGGING = {"log_config": None, "access_log": False}


def load_settings() -> Settings:
    """The settings, with the upstream deployments parsed up front: a bad RUNAPI_* value is one line naming
    the variable (and the deployment), exit status 2, instead of a traceback from deep inside start-up."""
    try:
        settings = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = f"RUNAPI_{str(first['loc'][0]).upper()}"
        item = f" (item {first['loc'][1]})" if len(first["loc"]) > 1 else ""
        _refuse(f"{where}{item}: {first['msg']}")
    except ConfigFileError as exc:  # RUNAPI_CONFIG: missing file, bad TOML, unknown key
        _refuse(str(exc))
    except ValueError as exc:  # pydantic-settings: a value that is not JSON where JSON is expected
        field = str(exc).split('"')[1] if str(exc).count('"') >= 2 else ""
        _refuse(f"RUNAPI_{field.upper()}: not valid JSON" if field else str(exc))
    from ..llm.upstream_common import LlmDeployment
    from ..providers.upstream.registry import parse_deployment

    _check_deployments("RUNAPI_LLM_UPSTREAMS", settings.llm_upstreams, LlmDeployment.from_setting)
    _check_deployments("RUNAPI_MEDIA_UPSTREAMS", settings.media_upstreams, parse_deployment)
    from ..observability import tracing

    try:
        tracing.check(settings)
    except tracing.TracingUnavailable as exc:
        _refuse(str(exc))
    return settings


def _check_deployments(variable: str, entries: list[dict[str, Any]], parse: Callable[[dict[str, Any]], Any]) -> None:
    for i, raw in enumerate(entries):
        try:
            parse(raw)
        except (TypeError, ValueError, KeyError) as exc:
            _refuse(f"{variable}: deployment {raw.get('name', f'#{i}')!r}: {exc}")


def _refuse(message: str) -> None:
    click.echo(f"runapi: {message}", err=True)
    sys.exit(2)


def collector_off_until_started() -> None:
    """Start-up makes ~200k objects that live as long as the process (modules, classes, the catalog) and little
    garbage; the cyclic collector would walk them over and over while they pile up (~10 % of start-up CPU).
    It stays off until the app has started: `freeze_startup_heap` then collects once, freezes, turns it on."""
    gc.disable()


LOG_LEVEL_ENV = "RUNAPI_SERVE_LOG_LEVEL"  # hands --log-level to the processes of `serve --workers N`


@click.command()
@click.option("--host", default=None, help="Bind address (RUNAPI_HOST, default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (RUNAPI_PORT, default 8000).")
@click.option(
    "--workers",
    "processes",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="API processes sharing the port (uvicorn workers; one that dies is replaced).",
)
@click.option(
    "--no-task-workers",
    "--no-workers",
    "no_task_workers",
    is_flag=True,
    help="Serve the API only; run `runapi worker` (on this node or others) for tasks and callbacks.",
)
@click.option("--log-level", default="info")
def serve(host: str | None, port: int | None, processes: int, no_task_workers: bool, log_level: str) -> None:
    """Run the API server (with in-process task and callback workers unless --no-task-workers)."""
    collector_off_until_started()
    import uvicorn

    from ..api.http_server import uvicorn_options
    from ..app import create_app

    if no_task_workers:
        os.environ["RUNAPI_RUN_WORKERS"] = "false"  # the environment reaches the processes of --workers N too
    if host:  # the app judges links and /metrics by the address it is really bound to
        os.environ["RUNAPI_HOST"] = host
    if port:
        os.environ["RUNAPI_PORT"] = str(port)
    settings = load_settings()
    setup_logging(settings, log_level)
    where = {
        "host": settings.host,
        "port": settings.port,
        "log_level": log_level,
        **UVICORN_LOGGING,
        **uvicorn_options(settings, processes),
    }
    if processes == 1:
        uvicorn.run(create_app(settings, freeze_heap=True), **where)
        return
    if settings.resolved_database_url.startswith("sqlite"):
        # Measured: 2 processes on one SQLite file serve fewer LLM calls than 1 (they queue on its file lock).
        logging.getLogger("runapi").warning(
            "--workers %d on SQLite: the processes share one database file and take turns writing to it; "
            "for more throughput use PostgreSQL (RUNAPI_DATABASE_URL)",
            processes,
        )
    gc.enable()  # this process only supervises; each worker process starts (and turns it on) on its own
    os.environ[LOG_LEVEL_ENV] = log_level
    share_metrics_between_processes()  # /metrics in any process then counts all of them
    uvicorn.run("runapi.cli.server_cmds:app_from_environment", factory=True, workers=processes, **where)


def app_from_environment() -> Starlette:
    """The app of one process of `serve --workers N` (uvicorn starts each one fresh): settings from RUNAPI_*."""
    collector_off_until_started()
    from ..app import create_app

    settings = Settings()
    setup_logging(settings, os.environ.get(LOG_LEVEL_ENV, "info"))
    # uvicorn set up its loggers in this process before calling us; setup_logging re-enabled its access
    # logger, which must stay quiet as in a single process (UVICORN_LOGGING: the app writes the access line)
    logging.getLogger("uvicorn.access").propagate = False
    return create_app(settings, freeze_heap=True)


def setup_logging(settings: Settings, level: str) -> None:
    configure_logging(settings.log_format, level)


@click.command()
@click.option("--log-level", default="info")
@click.option(
    "--metrics-port",
    type=int,
    default=None,
    help="Serve this worker's Prometheus metrics on this port (the API serves its own at /metrics).",
)
def worker(log_level: str, metrics_port: int | None) -> None:
    """Run task and callback workers without the API."""
    from ..services import build_services

    settings = load_settings()
    configure_logging(settings.log_format, log_level)
    if metrics_port:
        from ..observability.exposition import serve_process_metrics

        serve_process_metrics(metrics_port, settings.host)

    async def run() -> None:
        rt = await build_services(settings, run_workers=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        click.echo(f"runapi worker {rt.worker.owner if rt.worker else ''} running")
        await stop.wait()
        await rt.stop()

    asyncio.run(run())
