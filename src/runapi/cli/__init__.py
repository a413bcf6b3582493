"""`runapi`: serve, worker, admin and client commands."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import click
from click.exceptions import NoArgsIsHelpError

from . import (
    admin_cmds,
    catalog_cmds,
    client_cmds,
    exit_codes,
    listen_cmd,
    mcp_cmd,
    migrate_cmds,
    platform_cmds,
    providers_cmd,
    server_cmds,
    task_cmds,
)
from .client import CliFailure, emit, global_options, last_globals


class RunapiCLI(click.Group):
    """Built-in commands plus one group per catalog family (`runapi nano-banana text-to-image …`). A failed
    client command prints its JSON on stdout and exits with the platform CLI's code (exit_codes.py); a usage
    error exits 4 (validation), not click's 2 (which means authentication there)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return super().list_commands(ctx) + catalog_cmds.family_names()

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return super().get_command(ctx, name) or catalog_cmds.family_group(name)

    def main(  # type: ignore[override]
        self, args: Sequence[str] | None = None, prog_name: str | None = None, **extra: Any
    ) -> None:
        extra["standalone_mode"] = False
        try:
            result = super().main(args, prog_name, **extra)
        except CliFailure as failure:
            emit(failure.body)
            if not last_globals().quiet:
                click.echo(f"error: {failure.message}", err=True)
            sys.exit(failure.code)
        except NoArgsIsHelpError as exc:  # a group given no command: its help, as the platform CLI does
            click.echo(exc.ctx.get_help() if exc.ctx else "")
            sys.exit(exit_codes.OK)
        except click.UsageError as exc:
            exc.show()
            sys.exit(exit_codes.VALIDATION)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(exit_codes.ERROR)
        sys.exit(result if isinstance(result, int) else 0)


def print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """`runapi --version`: click's format, with the version of the runapi-server distribution (version.py)."""
    if value and not ctx.resilient_parsing:
        from ..version import version

        click.echo(f"runapi, version {version()}")
        ctx.exit()


@click.group(cls=RunapiCLI)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=print_version,
    help="Show the version and exit.",
)
@global_options
def main() -> None:
    """Self-hosted RunAPI. Client commands write JSON to stdout and progress to stderr; exit codes: 2 auth,
    3 insufficient credits, 4 validation or usage, 5 timeout, 6 rate limit, 7 task failed."""


main.add_command(server_cmds.serve)
main.add_command(server_cmds.worker)
main.add_command(admin_cmds.admin)
admin_cmds.admin.add_command(migrate_cmds.migrate_cmd)
admin_cmds.admin.add_command(migrate_cmds.backup_cmd)
for command in client_cmds.commands + task_cmds.commands + platform_cmds.commands:
    main.add_command(command)
main.add_command(listen_cmd.listen)
main.add_command(mcp_cmd.mcp)
main.add_command(providers_cmd.providers)
