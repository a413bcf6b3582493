"""What every client command shares, after the platform CLI (runapi-ai/cli@cmd/runapi/cli.go): the global flags
(--api-key, --base-url, --timeout, --quiet, --async, --poll-interval; accepted before the command or after it,
the later one winning), credentials (flag, then RUNAPI_API_KEY / RUNAPI_BASE_URL, then the saved config), JSON on
stdout and progress on stderr, --input/--input-file payloads, waiting for a task, and failures that carry
their exit code (exit_codes.py)."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click
import httpx

from . import exit_codes

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT_SECONDS = 15 * 60.0  # the platform CLI's core.DefaultTimeout
DEFAULT_POLL_INTERVAL_SECONDS = 3.0  # its --poll-interval default
MAX_DURATION_SECONDS = 24 * 3600.0
MAX_INPUT_BYTES = 16 * 1024 * 1024

F = TypeVar("F", bound=Callable[..., Any])


def config_path() -> Path:
    """RUNAPI_CONFIG_DIR/config.json, else $XDG_CONFIG_HOME/runapi/config.json, else ~/.config/runapi/…"""
    if os.environ.get("RUNAPI_CONFIG_DIR"):
        return Path(os.environ["RUNAPI_CONFIG_DIR"]) / "config.json"
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "runapi" / "config.json"


def saved_config() -> dict[str, Any]:
    try:
        config = json.loads(config_path().read_text())
    except (OSError, ValueError):
        return {}
    return config if isinstance(config, dict) else {}


class CliFailure(Exception):
    """A command failed: `body` goes to stdout as JSON (the server's error body, or a failed task), `message`
    to stderr, and the process exits with `code`."""

    def __init__(self, code: int, message: str, body: Any = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.body = body if body is not None else {"error": message}


def usage_failure(message: str) -> CliFailure:
    return CliFailure(exit_codes.VALIDATION, message)


# ------------------------------------------------------------------------------------------ global flags

_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds from a Go duration ("90s", "2m30s", "500ms", "1h") or a plain number of seconds; between
    0 (excluded) and 24 h."""
    raw = text.strip().lower()
    seconds: float | None = None
    if re.fullmatch(r"[0-9]+(\.[0-9]+)?", raw):
        seconds = float(raw)
    elif raw and re.fullmatch(r"(?:[0-9]+(?:\.[0-9]+)?(?:ms|s|m|h))+", raw):
        seconds = sum(float(n) * _UNITS[u] for n, u in _DURATION_PART.findall(raw))
    if seconds is None or not 0 < seconds <= MAX_DURATION_SECONDS:
        raise ValueError(f"invalid duration {text!r}: use e.g. 30s, 2m, 1h30m or a number of seconds (at most 24h)")
    return seconds


class Duration(click.ParamType[float]):
    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, float):
            return value
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


@dataclass
class Globals:
    api_key: str | None = None
    base_url: str | None = None
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    quiet: bool = False
    async_: bool = False
    poll_interval: float = DEFAULT_POLL_INTERVAL_SECONDS


_last: list[Globals] = []  # the running command's flags, for reporting its failure after its context is gone


def globals_of(ctx: click.Context | None = None) -> Globals:
    root = (ctx or click.get_current_context()).find_root()
    if not isinstance(root.obj, Globals):
        root.obj = Globals()
        _last[:] = [root.obj]
    return root.obj


def last_globals() -> Globals:
    return _last[0] if _last else Globals()


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is not None and value is not False and param.name:
        setattr(globals_of(ctx), param.name, value)
    return value


def _global_params() -> list[click.Parameter]:
    def option(decls: list[str], **kwargs: Any) -> click.Option:
        return click.Option(decls, expose_value=False, callback=_remember, **kwargs)

    return [
        option(["--api-key", "api_key"], help="API key. Overrides RUNAPI_API_KEY."),
        option(["--base-url", "base_url"], help="API base URL. Overrides RUNAPI_BASE_URL."),
        option(
            ["--timeout", "timeout"],
            type=Duration(),
            help="Overall command timeout (e.g. 90s, 15m; default 15m): also each request's and the longest wait.",
        ),
        option(["--quiet", "quiet"], is_flag=True, default=False, help="No progress logs on stderr."),
        option(
            ["--async", "async_"],
            is_flag=True,
            default=False,
            help="Submit the task and print it at once instead of waiting until it finishes.",
        ),
        option(["--poll-interval", "poll_interval"], type=Duration(), help="Time between polls (default 3s)."),
    ]


def global_options(f: F) -> F:
    """The platform CLI's persistent flags, on the root group and on each client command (a function about to
    become one, or a command)."""
    if isinstance(f, click.Command):
        f.params.extend(_global_params())
        return f
    # decorators store their params in reverse; these then come last in --help
    f.__click_params__ = _global_params()[::-1] + getattr(f, "__click_params__", [])  # type: ignore[attr-defined]
    return f


def log(message: str) -> None:
    if not globals_of().quiet:
        click.echo(message, err=True)


def emit(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


# ------------------------------------------------------------------------------------------------ HTTP


def credentials(required: bool = True) -> tuple[str | None, str]:
    """The API key (--api-key, RUNAPI_API_KEY, the saved one) and base URL (--base-url, RUNAPI_BASE_URL, the
    saved one, the default)."""
    g, saved = globals_of(), saved_config()
    key = (g.api_key or "").strip() or os.environ.get("RUNAPI_API_KEY", "").strip() or saved.get("api_key") or None
    base = (g.base_url or "").strip() or os.environ.get("RUNAPI_BASE_URL", "").strip() or saved.get("base_url")
    if required and not key:
        raise CliFailure(
            exit_codes.AUTH, "no API key: pass --api-key, set RUNAPI_API_KEY or run `runapi auth import-token`"
        )
    return key, str(base or DEFAULT_BASE_URL).rstrip("/")


def response_body(resp: httpx.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return {"error": resp.text.strip() or f"HTTP {resp.status_code}"}


def error_message(body: Any, status: int) -> str:
    """The message of an error body in any of the server's shapes ({"error": "..."}, {"error": {"message"}})."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        error = error.get("message")
    return str(error) if error else f"HTTP {status}"


class Api:
    """An HTTP client for one command: raises CliFailure for an error answer (with its body and exit code)."""

    def __init__(self, auth: bool = True, key: str | None = None):
        api_key, base = credentials(required=auth and key is None)
        api_key = key or api_key
        headers = {"User-Agent": "runapi-cli-py"}
        if auth and api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self.base_url = base
        self.http = httpx.Client(base_url=base, headers=headers, timeout=globals_of().timeout)

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            resp = self.http.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise CliFailure(
                exit_codes.TIMEOUT, f"{method} {path}: request timed out", {"error": "Request timed out"}
            ) from None
        except httpx.HTTPError as exc:
            raise CliFailure(exit_codes.ERROR, f"could not reach {self.base_url}: {exc}") from None
        if resp.status_code >= 400:
            body = response_body(resp)
            raise CliFailure(exit_codes.for_http_status(resp.status_code), error_message(body, resp.status_code), body)
        return resp

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        resp = self.call(method, path, **kwargs)
        return None if resp.status_code == 204 else response_body(resp)


# ---------------------------------------------------------------------------------------------- inputs


def read_input(raw: str | None, path: str | None, what: str = "--input") -> dict[str, Any]:
    """The JSON object given inline (`raw`) or in a file (`path`, - for standard input); {} without either."""
    file_flag = f"{what}-file"
    if raw is not None and raw.strip() and path:
        raise usage_failure(f"{what} and {file_flag} are mutually exclusive")
    if path:
        try:
            text = sys.stdin.read(MAX_INPUT_BYTES + 1) if path == "-" else Path(path).read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise usage_failure(f"cannot read {file_flag} {path}: {exc}") from None
        source = file_flag
    elif raw is not None and raw.strip():
        text, source = raw, what
    else:
        return {}
    if len(text) > MAX_INPUT_BYTES:
        raise usage_failure(f"{source} is larger than {MAX_INPUT_BYTES} bytes")
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise usage_failure(f"{source} must be valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise usage_failure(f"{source} must be a JSON object")
    return value


def merge_input(payload: dict[str, Any], flags: dict[str, Any]) -> dict[str, Any]:
    """The request body: the --input payload with the flags given on the command line over it."""
    return {**payload, **{k: v for k, v in flags.items() if v is not None and v != ()}}


# ---------------------------------------------------------------------------------------------- tasks


def status_path(family: str, action: str, task_id: str) -> str:
    return f"/api/v1/{family}/{action}/{task_id}"


def wait_for(api: Api, family: str, action: str, task_id: str, deadline: float | None = None) -> dict[str, Any]:
    """Poll the task until it completes (its JSON), fails (CliFailure 7 with its JSON) or the --timeout ends
    (CliFailure 5)."""
    g = globals_of()
    deadline = time.monotonic() + g.timeout if deadline is None else deadline
    while True:
        got = api.json("GET", status_path(family, action, task_id))
        body: dict[str, Any] = got if isinstance(got, dict) else {"status": None, "body": got}
        phase = exit_codes.task_phase(body.get("status"))
        log(f"polling status={phase}")
        if phase == "completed":
            return body
        if phase == "failed":
            raise CliFailure(exit_codes.TASK_FAILED, str(body.get("error") or "Task failed"), body)
        if time.monotonic() + g.poll_interval > deadline:
            raise CliFailure(
                exit_codes.TIMEOUT,
                "Task polling timed out",
                {
                    "error": "Task polling timed out",
                    "code": "task_timeout",
                    "id": task_id,
                    "status": body.get("status"),
                },
            )
        time.sleep(g.poll_interval)


def run_task(
    family: str,
    action: str,
    body: dict[str, Any],
    wait: bool,
    prepare: Callable[[Api, dict[str, Any]], dict[str, Any]] | None = None,
) -> None:
    """Create a task (its body first passed through `prepare`, e.g. to upload local files); print it at once,
    or (wait) wait for it and print its final JSON."""
    started = time.monotonic()
    with Api() as api:
        if prepare is not None:
            body = prepare(api, body)
        created = api.json("POST", f"/api/v1/{family}/{action}", json=body)
        task_id = created.get("id") if isinstance(created, dict) else None
        phase = exit_codes.task_phase(created.get("status") if isinstance(created, dict) else None)
        if phase == "failed":
            raise CliFailure(exit_codes.TASK_FAILED, str(created.get("error") or "Task failed"), created)
        if not wait or not task_id or phase != "processing":
            emit(created)
            return
        log(f"submitted id={task_id}")
        emit(wait_for(api, family, action, str(task_id), started + globals_of().timeout))
