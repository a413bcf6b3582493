"""`runapi`: serve, worker, admin and client commands."""

from __future__ import annotations

import click

from . import admin_cmds, client_cmds, server_cmds


@click.group()
@click.version_option(package_name="runapi")
def main() -> None:
    """Self-hosted RunAPI."""


main.add_command(server_cmds.serve)
main.add_command(server_cmds.worker)
main.add_command(admin_cmds.admin)
for command in client_cmds.commands:
    main.add_command(command)
