"""Client commands that mirror the platform CLI: credentials from --api-key, RUNAPI_API_KEY or
~/.config/runapi/config.json; RUNAPI_BASE_URL picks the server."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import click
import httpx

CONFIG_PATH = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "runapi" / "config.json"
DEFAULT_BASE_URL = "http://127.0.0.1:8000"


def _config() -> dict[str, Any]:
    try:
        config: dict[str, Any] = json.loads(CONFIG_PATH.read_text())
        return config
    except (OSError, ValueError):
        return {}


def credentials(api_key: str | None) -> tuple[str, str]:
    """The API key (--api-key, RUNAPI_API_KEY, else the saved one) and the server's base URL."""
    key = api_key or os.environ.get("RUNAPI_API_KEY") or _config().get("api_key")
    if not key:
        raise click.ClickException("no API key: pass --api-key, set RUNAPI_API_KEY or run `runapi auth import-token`")
    base = os.environ.get("RUNAPI_BASE_URL") or _config().get("base_url") or DEFAULT_BASE_URL
    return key, base


def _client(api_key: str | None) -> httpx.Client:
    key, base = credentials(api_key)
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60)


def _emit(resp: httpx.Response) -> Any:
    try:
        body = resp.json()
    except ValueError:
        body = resp.text
    click.echo(json.dumps(body, indent=2, ensure_ascii=False))
    if resp.status_code >= 400:
        sys.exit(1)
    return body


api_key_option = click.option("--api-key", default=None, help="API key (else RUNAPI_API_KEY or the saved one).")


@click.group()
def auth() -> None:
    """Save and check credentials."""


@auth.command("import-token")
@click.option("--token", required=True, help="The key, or - to read it from standard input.")
@click.option("--skip-verify", is_flag=True)
def import_token(token: str, skip_verify: bool) -> None:
    token = sys.stdin.read().strip() if token == "-" else token.strip()
    if not skip_verify:
        with _client(token) as c:
            resp = c.get("/api/v1/me")
            if resp.status_code != 200:
                raise click.ClickException(f"key rejected by server: HTTP {resp.status_code}")
    CONFIG_PATH.parent.mkdir(parents=True, exist_ok=True)
    cfg = {**_config(), "api_key": token}
    if os.environ.get("RUNAPI_BASE_URL"):
        cfg["base_url"] = os.environ["RUNAPI_BASE_URL"]
    CONFIG_PATH.write_text(json.dumps(cfg))
    CONFIG_PATH.chmod(0o600)
    click.echo(f"saved to {CONFIG_PATH}")


@auth.command("status")
@api_key_option
def auth_status(api_key: str | None) -> None:
    with _client(api_key) as c:
        _emit(c.get("/api/v1/me"))


@click.command()
@api_key_option
def balance(api_key: str | None) -> None:
    """Show the account balance in cents."""
    with _client(api_key) as c:
        _emit(c.get("/api/v1/me/balance"))


def _params(pairs: tuple[str, ...], raw_json: str | None) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(raw_json) if raw_json else {}
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


def run_task(family: str, action: str, body: dict[str, Any], wait: bool, interval: float, api_key: str | None) -> None:
    """POST a task, print the answer; with wait, poll until it is no longer processing."""
    with _client(api_key) as c:
        resp = c.post(f"/api/v1/{family}/{action}", json=body)
        if not wait or resp.status_code != 202:
            _emit(resp)
            return
        task_id = resp.json()["id"]
        while True:
            status = c.get(f"/api/v1/{family}/{action}/{task_id}")
            if status.status_code != 200 or status.json().get("status") != "processing":
                _emit(status)
                if status.json().get("status") == "failed":
                    sys.exit(1)
                return
            time.sleep(interval)


@tasks.command("create")
@click.argument("family")
@click.argument("action")
@click.option("-p", "--param", "pairs", multiple=True, help="key=value (value parsed as JSON when it can be).")
@click.option("--json", "raw_json", default=None, help="The whole request body as JSON.")
@click.option("--wait", is_flag=True, help="Poll until the task completes or fails.")
@click.option("--interval", type=float, default=2.0)
@api_key_option
def create(
    family: str,
    action: str,
    pairs: tuple[str, ...],
    raw_json: str | None,
    wait: bool,
    interval: float,
    api_key: str | None,
) -> None:
    run_task(family, action, _params(pairs, raw_json), wait, interval, api_key)


@tasks.command("get")
@click.argument("family")
@click.argument("action")
@click.argument("task_id")
@api_key_option
def get(family: str, action: str, task_id: str, api_key: str | None) -> None:
    with _client(api_key) as c:
        _emit(c.get(f"/api/v1/{family}/{action}/{task_id}"))


commands = [auth, balance, tasks]
