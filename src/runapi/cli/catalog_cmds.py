"""`runapi <family> <action> --param value …`: one command per catalog action, options from its parameters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..catalog import Action, Param, get_catalog
from . import exit_codes
from .client import Api, CliFailure, global_options, globals_of, log, merge_input, read_input, run_task
from .local_media import mime_of, with_uploads

_TYPES = {"integer": click.INT, "number": click.FLOAT, "boolean": click.BOOL}


def _option(p: Param) -> click.Option:
    name = "--" + p.name.replace("_", "-")
    help_text = (p.description or "").strip()
    if p.only_models:
        help_text += f" (models: {', '.join(p.only_models)})"
    if p.type == "array":
        return click.Option([name, p.name], multiple=True, help=help_text + " (repeatable)")
    if p.type == "object":
        return click.Option([name, p.name], help=help_text + " (JSON)")
    if p.enum and all(isinstance(v, str) for v in p.enum):
        return click.Option([name, p.name], type=click.Choice([str(v) for v in p.enum]), help=help_text)
    return click.Option([name, p.name], type=_TYPES.get(p.type, click.STRING), help=help_text)


def _action_command(action: Action) -> click.Command:
    def callback(input_json: str | None, input_file: str | None, interval: float | None, **values: Any) -> None:
        values.pop("wait", None)  # waiting is the default now (--async returns at once); --wait stays accepted
        if interval is not None:
            globals_of().poll_interval = max(interval, 0.01)
        flags = {}
        for key, value in values.items():
            if value is None or value == ():
                continue
            p = action.params[key]
            flags[key] = list(value) if p.type == "array" else _object(p.name, value) if p.type == "object" else value
        body = merge_input(read_input(input_json, input_file), flags)

        def upload_local_files(api: Api, body: dict[str, Any]) -> dict[str, Any]:
            def upload(path: Path) -> str:
                log(f"uploading {path}")
                try:
                    content = path.read_bytes()
                except OSError as exc:
                    raise CliFailure(exit_codes.VALIDATION, f"cannot read {path}: {exc}") from None
                made = api.json("POST", "/api/v1/files", files={"file": (path.name, content, mime_of(path))})
                return str(made["url"])

            return with_uploads(action, body, upload)

        run_task(action.family, action.name, body, not globals_of().async_, upload_local_files)

    params: list[click.Parameter] = [_option(p) for p in action.params.values()]
    params += [
        click.Option(
            ["--input", "input_json"],
            help="The request as a JSON object; flags given as well override its fields.",
        ),
        click.Option(["--input-file", "input_file"], help="A file holding the request as JSON (- for stdin)."),
        click.Option(["--wait"], is_flag=True, hidden=True, help="Wait for the task (the default)."),
        click.Option(["--interval"], type=float, default=None, hidden=True, help="As --poll-interval, in seconds."),
    ]
    cmd = click.Command(
        action.name.replace("_", "-"),
        callback=callback,
        params=params,
        help=(action.summary or f"{action.family} {action.name}")
        + " Waits for the task and prints its final JSON (--async: prints the created task at once).",
    )
    return global_options(cmd)


def _object(name: str, raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise CliFailure(exit_codes.VALIDATION, f"--{name.replace('_', '-')} must be JSON: {exc}") from None


class FamilyGroup(click.Group):
    def __init__(self, family: str):
        fam = get_catalog().families[family]
        super().__init__(family.replace("_", "-"), help=fam.description or fam.title)
        self.family = family

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [a.replace("_", "-") for a in get_catalog().families[self.family].actions]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        action = get_catalog().action(self.family, name.replace("-", "_"))
        return _action_command(action) if action else None


def family_names() -> list[str]:
    return [f.replace("_", "-") for f in get_catalog().families]


def family_group(name: str) -> click.Group | None:
    family = name.replace("-", "_")
    return FamilyGroup(family) if family in get_catalog().families else None
