"""`runapi`: serve, worker, admin and client commands."""

from __future__ import annotations

import click

from . import admin_cmds, catalog_cmds, client_cmds, mcp_cmd, providers_cmd, server_cmds


class RunapiCLI(click.Group):
    """Built-in commands plus one group per catalog family (`runapi nano-banana text-to-image …`)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return super().list_commands(ctx) + catalog_cmds.family_names()

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return super().get_command(ctx, name) or catalog_cmds.family_group(name)


@click.group(cls=RunapiCLI)
@click.version_option(package_name="runapi")
def main() -> None:
    """Self-hosted RunAPI."""


main.add_command(server_cmds.serve)
main.add_command(server_cmds.worker)
main.add_command(admin_cmds.admin)
for command in client_cmds.commands:
    main.add_command(command)
main.add_command(mcp_cmd.mcp)
main.add_command(providers_cmd.providers)
