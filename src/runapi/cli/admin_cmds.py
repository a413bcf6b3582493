"""`runapi admin …`: operator commands that act on the database directly."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import click

from ..auth import admin as ops
from ..settings import Settings
from ..store import Database


def _run(fn: Callable[[Database], Awaitable[Any]]) -> Any:
    async def go() -> Any:
        settings = Settings()
        db = Database(settings.resolved_database_url, settings.sqlite_synchronous)
        await db.create_schema()
        try:
            return await fn(db)
        finally:
            await db.dispose()

    try:
        return asyncio.run(go())
    except LookupError as exc:
        raise click.ClickException(str(exc.args[0] if exc.args else exc)) from None


@click.group()
def admin() -> None:
    """Accounts, keys, credits and callback secrets."""


@admin.command("create-account")
@click.option("--name", required=True)
@click.option("--email", required=True, help="The account's first member (its admin).")
@click.option("--credits", "credits_cents", type=int, default=0, help="Initial credits in cents.")
@click.option("--no-key", is_flag=True, help="Do not mint an API key.")
def create_account(name: str, email: str, credits_cents: int, no_key: bool) -> None:
    async def go(db: Database) -> dict:
        created = await ops.create_account(db, name, email, credits_cents)
        if not no_key:
            key = await ops.mint_key(db, created["account_id"], "api", name="default")
            created.update(api_key=key.token, api_key_id=key.id)
        return created

    click.echo(json.dumps(_run(go), indent=2))


@admin.command("create-key")
@click.option("--account", "account_id", type=int, required=True)
@click.option("--management", is_flag=True, help="A management key (manages API keys; cannot generate).")
@click.option("--name", default=None)
def create_key(account_id: int, management: bool, name: str | None) -> None:
    """Mint a key; the token is printed once and only its hash is kept."""
    key = _run(lambda db: ops.mint_key(db, account_id, "management" if management else "api", name=name))
    click.echo(json.dumps({"id": key.id, "kind": key.kind, "token": key.token, "masked_token": key.masked}, indent=2))


@admin.command("add-credits")
@click.option("--account", "account_id", type=int, required=True)
@click.option("--cents", type=int, required=True, help="Amount in cents (negative to remove).")
@click.option("--note", default=None)
def add_credits(account_id: int, cents: int, note: str | None) -> None:
    balance = _run(lambda db: ops.add_credits(db, account_id, cents, note))
    click.echo(json.dumps({"account_id": account_id, "balance_cents": balance}))


@admin.command("callback-secret")
@click.option("--account", "account_id", type=int, required=True)
@click.option("--rotate", is_flag=True, help="Replace the secret with a new one.")
def callback_secret(account_id: int, rotate: bool) -> None:
    """Show the base64 secret that signs this account's callbacks."""
    click.echo(_run(lambda db: ops.callback_secret(db, account_id, rotate)))


@admin.command("list-accounts")
def list_accounts() -> None:
    click.echo(json.dumps(_run(ops.list_accounts), indent=2))
