"""Operator actions: accounts, members, keys, credits, callback secrets (used by `runapi admin` and bootstrap)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..billing import ledger as billing
from ..store import Database
from ..store.schema import BIGINT_MAX, accounts, api_keys, memberships, users
from . import tokens

ROLES = ("admin", "member")


@dataclass
class MintedKey:
    id: str
    token: str  # shown once
    masked: str
    kind: str
    created_at: float = 0.0


async def create_account(db: Database, name: str, email: str, credits_cents: int = 0) -> dict[str, Any]:
    """A new account whose first member (the given user, created if new) is its admin."""
    created, _ = await _create_account(db, name, email, credits_cents, None, None)
    return created


async def create_account_with_key(
    db: Database, name: str, email: str, credits_cents: int, key_name: str, token: str | None = None
) -> tuple[dict[str, Any], MintedKey]:
    """`create_account` and its admin's first API key in one transaction: a failure leaves neither (an account
    nobody holds a key to would also end the first-start bootstrap, which runs only on an empty database)."""
    created, key = await _create_account(db, name, email, credits_cents, key_name, token)
    assert key is not None
    return created, key


async def _create_account(
    db: Database, name: str, email: str, credits_cents: int, key_name: str | None, token: str | None
) -> tuple[dict[str, Any], MintedKey | None]:
    if credits_cents:
        check_credit_amount(credits_cents)
    now = time.time()
    membership_id = tokens.new_prefixed_id("member")

    def create(conn: Connection) -> tuple[dict[str, Any], MintedKey | None]:
        account_id = conn.execute(
            insert(accounts)
            .values(
                name=name,
                balance_cents=0,
                callback_secret=tokens.new_callback_secret(),
                created_at=now,
            )
            .returning(accounts.c.id)
        ).scalar_one()
        user_id = conn.execute(select(users.c.id).where(users.c.email == email)).scalar()
        if user_id is None:
            user_id = conn.execute(
                insert(users).values(name=name, email=email, created_at=now).returning(users.c.id)
            ).scalar_one()
        conn.execute(
            insert(memberships).values(
                id=membership_id, account_id=account_id, user_id=user_id, role="admin", created_at=now
            )
        )
        if credits_cents:
            billing.credit(conn, account_id, credits_cents, note="initial credits")
        key = None
        if key_name is not None:
            values, key = _new_key(account_id, "api", key_name, membership_id, token)
            _insert_key(conn, values)
        return {"account_id": account_id, "user_id": user_id, "membership_id": membership_id}, key

    return await db.write_sync(create)


def _insert_key(conn: Connection, values: dict[str, Any]) -> None:
    try:
        conn.execute(insert(api_keys).values(values))
    except IntegrityError as exc:  # (not the caller's input: a refused insert here is ours to report)
        raise RuntimeError("the new key could not be stored") from exc


def check_email(email: object) -> str:
    """A plausible address (the account's members are found by it); ValueError otherwise."""
    if (
        not isinstance(email, str)
        or not 3 <= len(email.strip()) <= 320
        or "@" not in email
        or any(c.isspace() for c in email.strip())
    ):
        raise ValueError("email must be an email address")
    return email.strip()


async def add_member(
    db: Database, account_id: int, email: str, name: str | None = None, role: str = "member"
) -> dict[str, Any]:
    """Add a user (created if new) to an account with a role: `member` (manages only their own keys, under the
    admins' guardrails) or `admin`. LookupError: no such account; ValueError: bad input or already a member."""
    member, _ = await _add_member(db, account_id, email, name, role, with_key=False)
    return member


async def add_member_with_key(
    db: Database, account_id: int, email: str, name: str | None = None, role: str = "member"
) -> tuple[dict[str, Any], MintedKey]:
    """`add_member` and the member's first management key in one transaction: a failure leaves neither (a
    member without the key they were promised cannot sign in to get one)."""
    member, key = await _add_member(db, account_id, email, name, role, with_key=True)
    assert key is not None
    return member, key


async def _add_member(
    db: Database, account_id: int, email: str, name: str | None, role: str, with_key: bool
) -> tuple[dict[str, Any], MintedKey | None]:
    email = check_email(email)
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    now = time.time()
    membership_id = tokens.new_prefixed_id("member")

    def add(conn: Connection) -> tuple[dict[str, Any], MintedKey | None]:
        if conn.execute(select(accounts.c.id).where(accounts.c.id == account_id)).scalar() is None:
            raise LookupError(f"account {account_id} not found")
        user = conn.execute(select(users.c.id, users.c.name).where(users.c.email == email)).first()
        if user is None:
            user = conn.execute(
                insert(users)
                .values(name=name or email.split("@")[0], email=email, created_at=now)
                .returning(users.c.id, users.c.name)
            ).one()
        taken = conn.execute(
            select(memberships.c.id).where(memberships.c.account_id == account_id, memberships.c.user_id == user[0])
        ).scalar()
        if taken is not None:
            raise ValueError(f"{email} is already a member of account {account_id} ({taken})")
        conn.execute(
            insert(memberships).values(
                id=membership_id, account_id=account_id, user_id=user[0], role=role, created_at=now
            )
        )
        key = None
        if with_key:
            values, key = _new_key(account_id, "management", f"{email} management", membership_id)
            _insert_key(conn, values)  # (its failure is not "already a member" below)
        return {
            "id": membership_id,
            "account_id": account_id,
            "user_id": user[0],
            "name": user[1],
            "email": email,
            "role": role,
            "created_at": now,
        }, key

    try:
        return await db.write_sync(add)
    except IntegrityError:  # the same user added twice at once
        raise ValueError(f"{email} is already a member of account {account_id}") from None


async def list_members(db: Database, account_id: int, membership_id: str | None = None) -> list[dict[str, Any]]:
    q = (
        select(
            memberships.c.id,
            memberships.c.account_id,
            memberships.c.user_id,
            users.c.name,
            users.c.email,
            memberships.c.role,
            memberships.c.created_at,
        )
        .join(users, users.c.id == memberships.c.user_id)
        .where(memberships.c.account_id == account_id)
        .order_by(memberships.c.created_at, memberships.c.id)
    )
    if membership_id is not None:
        q = q.where(memberships.c.id == membership_id)
    async with db.read() as conn:
        return [dict(r) for r in (await conn.execute(q)).mappings().all()]


async def admin_membership(db: Database, account_id: int) -> str:
    async with db.read() as conn:
        mid: str | None = (
            await conn.execute(
                select(memberships.c.id)
                .where(memberships.c.account_id == account_id, memberships.c.role == "admin")
                .order_by(memberships.c.created_at)
                .limit(1)
            )
        ).scalar()
    if mid is None:
        raise LookupError(f"account {account_id} not found or has no admin member")
    return mid


async def mint_key(
    db: Database,
    account_id: int,
    kind: str = "api",
    name: str | None = None,
    membership_id: str | None = None,
    token: str | None = None,
    settings: dict[str, Any] | None = None,
) -> MintedKey:
    """Create a key. `settings` (limits, allowed models, enabled) are written in the same insert, so a key is
    never live without the limits it was created with."""
    if kind not in ("api", "management"):
        raise ValueError("kind must be api or management")
    membership_id = membership_id or await admin_membership(db, account_id)
    values, key = _new_key(account_id, kind, name, membership_id, token, settings)
    async with db.write() as conn:
        await conn.execute(insert(api_keys).values(values))
    return key


def _new_key(
    account_id: int,
    kind: str,
    name: str | None,
    membership_id: str,
    token: str | None = None,
    settings: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], MintedKey]:
    """The row of a new key (only the token's hash is kept) and what to show of it once."""
    token = token or tokens.new_token(kind)
    key_id = tokens.new_prefixed_id("token" if kind == "api" else "mgmt")
    now = time.time()
    values = {
        "id": key_id,
        "account_id": account_id,
        "membership_id": membership_id,
        "kind": kind,
        "name": name,
        "lookup": tokens.lookup_prefix(token),
        "token_hash": tokens.token_hash(token),
        "masked": tokens.masked(token),
        "enabled": True,
        "created_at": now,
        **(settings or {}),
    }
    return values, MintedKey(id=key_id, token=token, masked=tokens.masked(token), kind=kind, created_at=now)


def check_credit_amount(cents: int) -> int:
    """Credits added are positive whole cents that fit the balance column (ValueError otherwise)."""
    if isinstance(cents, bool) or not isinstance(cents, int) or cents < 1:
        raise ValueError(f"cents must be a positive whole number of cents (got {cents})")
    if cents > BIGINT_MAX:
        raise ValueError(f"cents must be at most {BIGINT_MAX}")
    return cents


async def add_credits(db: Database, account_id: int, cents: int, note: str | None = None) -> int:
    """Add credits. Refuses anything but a positive amount, and a balance the column cannot hold: taking
    credits away is not a negative top-up (it could drive a balance below zero)."""
    check_credit_amount(cents)

    def add(conn: Connection) -> int:
        balance = conn.execute(select(accounts.c.balance_cents).where(accounts.c.id == account_id)).scalar()
        if balance is None:
            raise LookupError(f"account {account_id} not found")
        if balance > BIGINT_MAX - cents:
            raise ValueError(f"the balance would exceed {BIGINT_MAX} cents")
        return billing.credit(conn, account_id, cents, note=note or "admin credit")

    return await db.write_sync(add)


async def callback_secret(db: Database, account_id: int, rotate: bool = False) -> str:
    async with db.write() as conn:
        if rotate:
            await conn.execute(
                update(accounts).where(accounts.c.id == account_id).values(callback_secret=tokens.new_callback_secret())
            )
        secret: str | None = (
            await conn.execute(select(accounts.c.callback_secret).where(accounts.c.id == account_id))
        ).scalar()
    if secret is None:
        raise LookupError(f"account {account_id} not found")
    return secret


async def list_accounts(db: Database) -> list[dict[str, Any]]:
    async with db.read() as conn:
        rows = (
            (
                await conn.execute(
                    select(accounts.c.id, accounts.c.name, accounts.c.balance_cents).order_by(accounts.c.id)
                )
            )
            .mappings()
            .all()
        )
    return [dict(r) for r in rows]


async def count_accounts(db: Database) -> int:
    async with db.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(accounts))).scalar_one())
