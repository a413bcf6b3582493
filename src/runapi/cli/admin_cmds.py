"""`runapi admin …`: operator commands that act on the database directly."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError
from sqlalchemy.engine import make_url

from .. import retention
from ..auth import admin as ops
from ..auth import console_sessions, passwords
from ..callbacks import allowlist
from ..settings import Settings
from ..storage import make_storage
from ..store import Database
from ..store.schema import BIGINT_MAX


def _database(settings: Settings, create: bool) -> str:
    """The database URL these commands act on, said on stderr (they act on ./runapi-data of the current
    directory unless RUNAPI_DATA_DIR / RUNAPI_DATABASE_URL say otherwise). A SQLite file that does not exist
    yet is not silently created: that is nearly always the wrong directory, unless --create asks for it."""
    url = settings.resolved_database_url
    shown = make_url(url).render_as_string(hide_password=True)
    click.echo(f"runapi admin: database {shown}", err=True)
    path = make_url(url).database if url.startswith("sqlite") else None
    if path and path != ":memory:" and not Path(path).exists() and not create:
        raise click.ClickException(
            f"no database at {path}: run this where the server runs, or set RUNAPI_DATA_DIR or "
            "RUNAPI_DATABASE_URL to its database; pass `runapi admin --create ...` to start a new one"
        )
    return url


def _settings() -> Settings:
    """The settings; a bad RUNAPI_* value is one line naming the variable, not a traceback."""
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        raise click.ClickException(f"RUNAPI_{str(first['loc'][0]).upper()}: {first['msg']}") from None


def _run(fn: Callable[[Database], Awaitable[Any]], settings: Settings | None = None) -> Any:
    ctx = click.get_current_context()
    settings = settings or _settings()
    url = _database(settings, bool((ctx.obj or {}).get("create")))

    async def go() -> Any:
        db = Database(url, settings.sqlite_synchronous)
        await db.create_schema()
        try:
            return await fn(db)
        finally:
            await db.dispose()

    try:
        return asyncio.run(go())
    except (LookupError, ValueError) as exc:  # no such account, or a value the database cannot take
        raise click.ClickException(str(exc.args[0] if exc.args else exc)) from None


# Whole cents as the balance column stores them (signed 64 bits): larger numbers are refused, not turned into
# floats or overflowed.
CENTS = click.IntRange(min=0, max=BIGINT_MAX)
POSITIVE_CENTS = click.IntRange(min=1, max=BIGINT_MAX)
ACCOUNT = click.IntRange(min=1, max=2**31 - 1)  # accounts.id is a 32-bit INTEGER


@click.group()
@click.option("--create", is_flag=True, help="Create the database if it does not exist yet (else refused).")
@click.pass_context
def admin(ctx: click.Context, create: bool) -> None:
    """Accounts, members, keys, credits, callback secrets, storage use and retention, in the database of RUNAPI_DATABASE_URL, else
    RUNAPI_DATA_DIR/runapi.db (default ./runapi-data: run it where the server runs)."""
    ctx.obj = {"create": create}


@admin.command("create-account")
@click.option("--name", required=True)
@click.option("--email", required=True, help="The account's first member (its admin).")
@click.option("--credits", "credits_cents", type=CENTS, default=0, help="Initial credits in cents.")
@click.option("--no-key", is_flag=True, help="Do not mint an API key.")
def create_account(name: str, email: str, credits_cents: int, no_key: bool) -> None:
    async def go(db: Database) -> dict[str, Any]:
        if no_key:
            return await ops.create_account(db, name, email, credits_cents)
        created, key = await ops.create_account_with_key(db, name, email, credits_cents, "default")
        return {**created, "api_key": key.token, "api_key_id": key.id}

    click.echo(json.dumps(_run(go), indent=2))


@admin.command("create-key")
@click.option("--account", "account_id", type=ACCOUNT, required=True)
@click.option("--management", is_flag=True, help="A management key (manages API keys; cannot generate).")
@click.option("--name", default=None)
def create_key(account_id: int, management: bool, name: str | None) -> None:
    """Mint a key; the token is printed once and only its hash is kept."""
    key = _run(lambda db: ops.mint_key(db, account_id, "management" if management else "api", name=name))
    click.echo(json.dumps({"id": key.id, "kind": key.kind, "token": key.token, "masked_token": key.masked}, indent=2))


@admin.command("add-member")
@click.option("--account", "account_id", type=ACCOUNT, required=True)
@click.option("--email", required=True, help="The user (created if new).")
@click.option("--name", default=None)
@click.option(
    "--role",
    type=click.Choice(ops.ROLES),
    default="member",
    show_default=True,
    help="member: manages only their own keys, under the admins' guardrails.",
)
@click.option("--no-key", is_flag=True, help="Do not mint a management key for the member.")
def add_member(account_id: int, email: str, name: str | None, role: str, no_key: bool) -> None:
    """Add a member to an account; prints their management key once."""

    async def go(db: Database) -> dict[str, Any]:
        if no_key:
            member, key = await ops.add_member(db, account_id, email, name, role), None
        else:  # the member and their key in one transaction
            member, key = await ops.add_member_with_key(db, account_id, email, name, role)
        out = {
            "membership_id": member["id"],
            "account_id": account_id,
            "user_id": member["user_id"],
            "email": member["email"],
            "role": role,
        }
        if key is not None:
            out.update(management_key=key.token, management_key_id=key.id)
        return out

    click.echo(json.dumps(_run(go), indent=2))


@admin.command("add-credits")
@click.option("--account", "account_id", type=ACCOUNT, required=True)
@click.option("--cents", type=POSITIVE_CENTS, required=True, help="Amount in cents (positive).")
@click.option("--note", default=None)
def add_credits(account_id: int, cents: int, note: str | None) -> None:
    balance = _run(lambda db: ops.add_credits(db, account_id, cents, note))
    click.echo(json.dumps({"account_id": account_id, "balance_cents": balance}))


@admin.command("callback-secret")
@click.option("--account", "account_id", type=ACCOUNT, required=True)
@click.option("--rotate", is_flag=True, help="Replace the secret with a new one.")
def callback_secret(account_id: int, rotate: bool) -> None:
    """Show the base64 secret that signs this account's callbacks."""
    click.echo(_run(lambda db: ops.callback_secret(db, account_id, rotate)))


@admin.command("callback-allowlist")
@click.option("--account", "account_id", type=ACCOUNT, required=True)
@click.option("--set", "entries", multiple=True, help="An allowed host or URL prefix (repeat; replaces the list).")
@click.option("--clear", is_flag=True, help="Empty the list: any public callback URL is allowed again.")
def callback_allowlist(account_id: int, entries: tuple[str, ...], clear: bool) -> None:
    """Show (or replace) the hosts / URL prefixes this account's callback URLs must match, as JSON."""
    if entries and clear:
        raise click.UsageError("--set and --clear exclude each other")

    async def go(db: Database) -> tuple[str, ...]:
        await ops.callback_secret(db, account_id)  # LookupError for an account that does not exist
        if entries or clear:
            return await allowlist.put(db, account_id, allowlist.normalized(list(entries)))
        return await allowlist.get(db, account_id)

    click.echo(json.dumps({"account_id": account_id, "callback_url_allowlist": list(_run(go))}))


@admin.command("list-accounts")
def list_accounts() -> None:
    click.echo(json.dumps(_run(ops.list_accounts), indent=2))


def _read_password(from_stdin: bool) -> str:
    if from_stdin:  # scripts: the first line of stdin, so the password never shows in `ps` or shell history
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt="Repeat the password"))


@admin.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.option(
    "--operator/--no-operator",
    default=None,
    help="Also make the user the instance's operator (the console's operator view: every account, "
    "add credits, upstreams, queue), or take that away. Unchanged when not given.",
)
def set_password(email: str, password_stdin: bool, operator: bool | None) -> None:
    """Set the web console password of a user (a member of some account), prompting twice."""
    password = _read_password(password_stdin)
    try:
        passwords.check_password(password)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    user = _run(lambda db: passwords.set_password(db, email, password, operator))
    click.echo(json.dumps({"user_id": user.id, "email": user.email, "operator": user.is_operator}))


def _console_url(settings: Settings, given: str | None) -> str:
    if given:
        return given.rstrip("/")
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = settings.host if settings.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{settings.port}"


@admin.command("login-link")
@click.argument("email")
@click.option(
    "--base-url",
    default=None,
    help="Where the console is reached (default RUNAPI_PUBLIC_URL, else http://RUNAPI_HOST:RUNAPI_PORT).",
)
def login_link(email: str, base_url: str | None) -> None:
    """Print a one-time web console sign-in link for a user (valid 15 minutes, single use)."""
    settings = Settings()

    async def go(db: Database) -> str:
        user = await passwords.user_by_email(db, email)
        if user is None:
            raise LookupError(f"no user with email {email} (add them to an account first: runapi admin add-member)")
        return await console_sessions.create_login_link(db, user.id)

    token = _run(go, settings)
    click.echo(f"{_console_url(settings, base_url)}/console/sign-in/link?token={token}")


def _size(n: int) -> str:
    size, unit = float(n), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            break
        size /= 1024
    return f"{n} B" if unit == "B" else f"{size:.1f} {unit}"


@admin.command("storage")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def storage_usage(as_json: bool) -> None:
    """What storage holds, by kind (generated media, uploads, OpenAI files, multipart parts) and by account:
    files and bytes, from the database's rows."""
    found = _run(retention.storage_usage).as_dict()
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    lines = [f"{'account':>8}  {'kind':<13} {'files':>9} {'bytes':>15}"]
    for kind, u in found["kinds"].items():
        lines.append(f"{'all':>8}  {kind:<13} {u['files']:>9} {u['bytes']:>15}  {_size(u['bytes'])}")
    total = found["total"]
    lines.append(f"{'all':>8}  {'total':<13} {total['files']:>9} {total['bytes']:>15}  {_size(total['bytes'])}")
    for acct in found["accounts"]:
        for kind, u in acct["kinds"].items():
            lines.append(f"{acct['account_id']:>8}  {kind:<13} {u['files']:>9} {u['bytes']:>15}  {_size(u['bytes'])}")
    if found["unsized_tasks"]:
        lines.append(
            f"({found['unsized_tasks']} finished tasks keep files of unrecorded size: made before sizes were kept)"
        )
    click.echo("\n".join(lines))


@admin.command("expire")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def expire_now(as_json: bool) -> None:
    """Run one retention pass now (what the server runs every RUNAPI_RETENTION_INTERVAL_SECONDS): at most
    RUNAPI_RETENTION_BATCH of each kind. Prints what it removed."""
    settings = _settings()
    policy = retention.Retention.from_settings(settings)
    report = _run(lambda db: retention.run_expiry(db, make_storage(settings), policy), settings).as_dict()
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    kept = ", ".join(
        f"{what} {days} days" if days else f"{what} for ever"
        for what, days in (
            ("generated media", policy.generated_media_days),
            ("tasks", policy.task_days),
            ("usage", policy.usage_days),
        )
    )
    click.echo(f"retention: {kept}; at most {policy.batch} of each kind per run")
    click.echo("\n".join(f"{k.replace('_', ' ')}: {v}" for k, v in report.items()))
