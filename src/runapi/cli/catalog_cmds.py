"""`runapi <family> <action> --param value …`: one command per catalog action, options from its parameters."""

from __future__ import annotations

from typing import Any

import click

from ..catalog import Action, Param, get_catalog
from .client_cmds import api_key_option, run_task

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
    def callback(api_key: str | None, wait: bool, interval: float, **values: Any) -> None:
        import json

        body = {}
        for key, value in values.items():
            if value is None or value == ():
                continue
            p = action.params[key]
            body[key] = list(value) if p.type == "array" else json.loads(value) if p.type == "object" else value
        run_task(action.family, action.name, body, wait, interval, api_key)

    params: list[click.Parameter] = [_option(p) for p in action.params.values()]
    params += [
        click.Option(["--wait"], is_flag=True, help="Poll until the task completes or fails."),
        click.Option(["--interval"], type=float, default=2.0, help="Seconds between polls."),
    ]
    cmd = click.Command(
        action.name.replace("_", "-"),
        callback=callback,
        params=params,
        help=action.summary or f"{action.family} {action.name}",
    )
    return api_key_option(cmd)


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
