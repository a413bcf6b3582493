"""Operator actions: accounts, members, keys, credits, callback secrets (used by `runapi admin` and bootstrap)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Connection, func, insert, select, update

from ..billing import ledger as billing
from ..store import Database
from ..store.schema import accounts, api_keys, memberships, users
from . import tokens


@dataclass
class MintedKey:
    id: str
    token: str  # shown once
    masked: str
    kind: str


async def create_account(db: Database, name: str, email: str, credits_cents: int = 0) -> dict:
    """A new account whose first member (the given user, created if new) is its admin."""
    now = time.time()
    membership_id = tokens.new_prefixed_id("member")

    def create(conn: Connection) -> tuple[int, int]:
        account_id = conn.execute(insert(accounts).values(
            name=name, balance_cents=0, callback_secret=tokens.new_callback_secret(), created_at=now,
        ).returning(accounts.c.id)).scalar_one()
        user_id = conn.execute(select(users.c.id).where(users.c.email == email)).scalar()
        if user_id is None:
            user_id = conn.execute(insert(users).values(
                name=name, email=email, created_at=now).returning(users.c.id)).scalar_one()
        conn.execute(insert(memberships).values(
            id=membership_id, account_id=account_id, user_id=user_id, role="admin", created_at=now))
        if credits_cents:
            billing.credit(conn, account_id, credits_cents, note="initial credits")
        return account_id, user_id

    account_id, user_id = await db.write_sync(create)
    return {"account_id": account_id, "user_id": user_id, "membership_id": membership_id}


async def admin_membership(db: Database, account_id: int) -> str:
    async with db.read() as conn:
        mid = (await conn.execute(select(memberships.c.id).where(
            memberships.c.account_id == account_id, memberships.c.role == "admin"
        ).order_by(memberships.c.created_at).limit(1))).scalar()
    if mid is None:
        raise LookupError(f"account {account_id} not found or has no admin member")
    return mid


async def mint_key(db: Database, account_id: int, kind: str = "api", name: str | None = None,
                   membership_id: str | None = None, token: str | None = None) -> MintedKey:
    if kind not in ("api", "management"):
        raise ValueError("kind must be api or management")
    membership_id = membership_id or await admin_membership(db, account_id)
    token = token or tokens.new_token(kind)
    key_id = tokens.new_prefixed_id("token" if kind == "api" else "mgmt")
    async with db.write() as conn:
        await conn.execute(insert(api_keys).values(
            id=key_id, account_id=account_id, membership_id=membership_id, kind=kind, name=name,
            lookup=tokens.lookup_prefix(token), token_hash=tokens.token_hash(token), masked=tokens.masked(token),
            enabled=True, created_at=time.time(),
        ))
    return MintedKey(id=key_id, token=token, masked=tokens.masked(token), kind=kind)


async def add_credits(db: Database, account_id: int, cents: int, note: str | None = None) -> int:
    def add(conn: Connection) -> int:
        if conn.execute(select(accounts.c.id).where(accounts.c.id == account_id)).scalar() is None:
            raise LookupError(f"account {account_id} not found")
        return billing.credit(conn, account_id, cents, note=note or "admin credit")

    return await db.write_sync(add)


async def callback_secret(db: Database, account_id: int, rotate: bool = False) -> str:
    async with db.write() as conn:
        if rotate:
            await conn.execute(update(accounts).where(accounts.c.id == account_id)
                               .values(callback_secret=tokens.new_callback_secret()))
        secret = (await conn.execute(select(accounts.c.callback_secret)
                                     .where(accounts.c.id == account_id))).scalar()
    if secret is None:
        raise LookupError(f"account {account_id} not found")
    return secret


async def list_accounts(db: Database) -> list[dict]:
    async with db.read() as conn:
        rows = (await conn.execute(select(accounts.c.id, accounts.c.name, accounts.c.balance_cents)
                                   .order_by(accounts.c.id))).mappings().all()
    return [dict(r) for r in rows]


async def count_accounts(db: Database) -> int:
    async with db.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(accounts))).scalar_one())
