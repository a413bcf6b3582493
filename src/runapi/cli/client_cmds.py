"""Client commands of our own (`auth`, `balance`, `tasks`), on the platform CLI's flags and exit codes
(client.py): credentials from --api-key, RUNAPI_API_KEY or ~/.config/runapi/config.json; RUNAPI_BASE_URL or
--base-url picks the server."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from . import client, exit_codes
from .client import Api, CliFailure, config_path, emit, global_options, globals_of, run_task, saved_config

# for commands that take only the key (`runapi mcp`)
api_key_option = click.option("--api-key", default=None, help="API key (else RUNAPI_API_KEY or the saved one).")


def credentials(api_key: str | None) -> tuple[str, str]:
    """The key (this one, else as client.credentials finds it) and the base URL; exit 2 without a key."""
    if api_key:
        globals_of().api_key = api_key
    key, base = client.credentials()
    return str(key), base


@click.group()
def auth() -> None:
    """Save and check credentials."""


@auth.command("import-token")
@click.option("--token", required=True, help="The key, or - to read it from standard input.")
@click.option("--skip-verify", is_flag=True)
@global_options
def import_token(token: str, skip_verify: bool) -> None:
    token = sys.stdin.read().strip() if token == "-" else token.strip()
    if not skip_verify:
        with Api(key=token) as c:
            try:
                c.call("GET", "/api/v1/me")
            except CliFailure as failure:
                raise CliFailure(failure.code, f"key rejected by server: {failure.message}", failure.body) from None
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    cfg = {**saved_config(), "api_key": token}
    base = globals_of().base_url or os.environ.get("RUNAPI_BASE_URL")
    if base:
        cfg["base_url"] = base
    path.write_text(json.dumps(cfg))
    path.chmod(0o600)
    click.echo(f"saved to {path}")


@auth.command("status")
@global_options
def auth_status() -> None:
    with Api() as c:
        emit(c.json("GET", "/api/v1/me"))


@click.command()
@global_options
def balance() -> None:
    """Show the account balance in cents."""
    with Api() as c:
        emit(c.json("GET", "/api/v1/me/balance"))


def _params(pairs: tuple[str, ...], raw_json: str | None) -> dict[str, Any]:
    try:
        body: Any = json.loads(raw_json) if raw_json else {}
    except ValueError as exc:
        raise CliFailure(exit_codes.VALIDATION, f"--json must be valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise CliFailure(exit_codes.VALIDATION, "--json must be a JSON object")
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"expected key=value, got {pair!r}")
        try:
            body[key] = json.loads(value)  # numbers, booleans, arrays
        except ValueError:
            body[key] = value
    return body


@click.group()
def tasks() -> None:
    """Create and inspect tasks on any catalog endpoint."""


@tasks.command("create")
@click.argument("family")
@click.argument("action")
@click.option("-p", "--param", "pairs", multiple=True, help="key=value (value parsed as JSON when it can be).")
@click.option("--json", "raw_json", default=None, help="The whole request body as JSON.")
@click.option("--wait", is_flag=True, help="Poll until the task completes or fails.")
@click.option("--interval", type=float, default=None, help="Seconds between polls (as --poll-interval).")
@global_options
def create(
    family: str, action: str, pairs: tuple[str, ...], raw_json: str | None, wait: bool, interval: float | None
) -> None:
    if interval is not None:
        globals_of().poll_interval = max(interval, 0.01)
    run_task(family, action, _params(pairs, raw_json), wait and not globals_of().async_)


@tasks.command("get")
@click.argument("family")
@click.argument("action")
@click.argument("task_id")
@global_options
def get(family: str, action: str, task_id: str) -> None:
    with Api() as c:
        emit(c.json("GET", f"/api/v1/{family}/{action}/{task_id}"))


commands = [auth, balance, tasks]
