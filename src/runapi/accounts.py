"""Accounts as their members see them: who is calling, the balance, the members. The SQL behind `/api/v1/me`,
`/api/v1/me/balance` and `/api/v1/members`, rows as frozen objects; refusals are domain errors
(runapi.errors). Operator actions (creating accounts, minting keys, crediting) are `auth/admin.py`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from .auth import admin
from .auth.admin import MintedKey
from .auth.principal import Principal
from .billing.ledger import balance_summary
from .callbacks import allowlist
from .errors import Forbidden, InvalidInput
from .store import Database
from .store.schema import accounts, users


@dataclass(frozen=True)
class User:
    id: int
    name: str
    email: str

    @classmethod
    def from_row(cls, row: Any) -> User:
        return cls(id=row["id"], name=row["name"], email=row["email"])


@dataclass(frozen=True)
class Account:
    id: int
    name: str

    @classmethod
    def from_row(cls, row: Any) -> Account:
        return cls(id=row["id"], name=row["name"])


@dataclass(frozen=True)
class Balance:
    balance_cents: int
    spent_cents_today: int
    spent_cents_total: int

    @classmethod
    def from_row(cls, row: Any) -> Balance:
        return cls(
            balance_cents=int(row["balance_cents"]),
            spent_cents_today=int(row["spent_cents_today"]),
            spent_cents_total=int(row["spent_cents_total"]),
        )


@dataclass(frozen=True)
class Member:
    id: str  # membership id
    account_id: int
    user_id: int
    name: str
    email: str
    role: str  # admin | member
    created_at: float

    @classmethod
    def from_row(cls, row: Any) -> Member:
        return cls(
            id=row["id"],
            account_id=row["account_id"],
            user_id=row["user_id"],
            name=row["name"],
            email=row["email"],
            role=row["role"],
            created_at=row["created_at"],
        )


async def whoami(db: Database, who: Principal) -> tuple[User, Account]:
    async with db.read() as conn:
        user = (
            (await conn.execute(select(users.c.id, users.c.name, users.c.email).where(users.c.id == who.user_id)))
            .mappings()
            .one()
        )
        account = (
            (await conn.execute(select(accounts.c.id, accounts.c.name).where(accounts.c.id == who.account_id)))
            .mappings()
            .one()
        )
    return User.from_row(user), Account.from_row(account)


async def balance(db: Database, account_id: int) -> Balance:
    async with db.read() as conn:
        return Balance.from_row(await balance_summary(conn, account_id))


async def list_members(db: Database, who: Principal) -> list[Member]:
    """Admins see every member of the account; a member sees themselves."""
    rows = await admin.list_members(db, who.account_id, None if who.role == "admin" else who.membership_id)
    return [Member.from_row(r) for r in rows]


async def add_member(
    db: Database, who: Principal, email: str, name: str | None, role: str = "member"
) -> tuple[Member, MintedKey]:
    """Add a user to the caller's account and mint their first management key, in one transaction."""
    if who.role != "admin":
        raise Forbidden("Only an account admin can add members")
    try:
        member, key = await admin.add_member_with_key(db, who.account_id, email, name, role)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    return Member.from_row(member), key


async def callback_secret(db: Database, who: Principal) -> str:
    """The base64 secret that signs the account's callbacks: every member may read it (their tasks' callbacks
    are signed with it)."""
    return await admin.callback_secret(db, who.account_id)


async def rotate_callback_secret(db: Database, who: Principal) -> str:
    """Replace the account's callback secret with a new random one (admins only: every receiver of the account
    must switch to it). Deliveries sign with the secret current when they are sent, retries included."""
    if who.role != "admin":
        raise Forbidden("Only an account admin can rotate the callback secret")
    return await admin.callback_secret(db, who.account_id, rotate=True)


async def callback_url_allowlist(db: Database, who: Principal) -> tuple[str, ...]:
    """The hosts / URL prefixes the account's callback URLs must match (empty: any); every member may read it
    (their tasks' callback URLs are checked against it)."""
    return await allowlist.get(db, who.account_id)


async def set_callback_url_allowlist(db: Database, who: Principal, entries: list[str]) -> tuple[str, ...]:
    """Replace the account's callback URL allow-list (admins only: it binds every member's tasks); an empty
    list allows any URL again. Tasks created before keep their callback URL."""
    if who.role != "admin":
        raise Forbidden("Only an account admin can change the callback URL allow-list")
    try:
        kept = allowlist.normalized(entries)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    return await allowlist.put(db, who.account_id, kept)
