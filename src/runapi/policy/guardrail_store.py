"""Guardrails and their assignments as the management APIs keep them: the SQL behind `/api/v1/guardrails` and
`/api/v1/guardrail_assignments`, rows as frozen `Guardrail` / `Assignment` objects, and who may change what.
Refusals are domain errors (runapi.errors). Enforcement on the request path is `policy/guardrails.py`."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import ColumnElement, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..auth.keys import check_limit_pair
from ..auth.principal import Principal
from ..auth.tokens import new_prefixed_id
from ..errors import Forbidden, InvalidInput, record_not_found
from ..ratelimit.policy import FIELDS as RATE_FIELDS
from ..store import Database
from ..store.schema import api_keys, guardrail_assignments, guardrails, memberships

LIST_FIELDS = ("allowed_models", "blocked_models", "allowed_providers", "blocked_providers")


def _tuple(value: Any) -> tuple[Any, ...] | None:
    return tuple(value) if value else None


@dataclass(frozen=True)
class Guardrail:
    id: str
    account_id: int
    created_by: str  # membership id
    name: str
    description: str | None
    enabled: bool
    credit_limit_cents: int | None
    credit_limit_reset_interval: str | None
    allowed_models: tuple[str, ...] | None
    blocked_models: tuple[str, ...] | None
    allowed_providers: tuple[str, ...] | None
    blocked_providers: tuple[str, ...] | None
    model_budgets: tuple[dict[str, Any], ...] | None
    created_at: float
    updated_at: float
    rpm_limit: int | None = None  # rate limits for each key it applies to (the stricter of key and guardrail)
    tpm_limit: int | None = None
    max_parallel_requests: int | None = None

    @classmethod
    def from_row(cls, row: Any) -> Guardrail:
        return cls(
            id=row["id"],
            account_id=row["account_id"],
            created_by=row["created_by"],
            name=row["name"],
            description=row["description"],
            enabled=bool(row["enabled"]),
            credit_limit_cents=row["credit_limit_cents"],
            credit_limit_reset_interval=row["credit_limit_reset_interval"],
            allowed_models=_tuple(row["allowed_models"]),
            blocked_models=_tuple(row["blocked_models"]),
            allowed_providers=_tuple(row["allowed_providers"]),
            blocked_providers=_tuple(row["blocked_providers"]),
            model_budgets=_tuple(row["model_budgets"]),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            rpm_limit=row.get("rpm_limit"),
            tpm_limit=row.get("tpm_limit"),
            max_parallel_requests=row.get("max_parallel_requests"),
        )


@dataclass(frozen=True)
class Assignment:
    id: str
    account_id: int
    guardrail_id: str
    api_key_id: str | None  # exactly one of the key and the member
    membership_id: str | None
    created_by: str
    created_at: float

    @classmethod
    def from_row(cls, row: Any) -> Assignment:
        return cls(
            id=row["id"],
            account_id=row["account_id"],
            guardrail_id=row["guardrail_id"],
            api_key_id=row["api_key_id"],
            membership_id=row["membership_id"],
            created_by=row["created_by"],
            created_at=row["created_at"],
        )


def check_limits(limit: int | None, interval: str | None) -> None:
    """A guardrail's credit limit and its window come together (both, or neither)."""
    check_limit_pair(limit, interval)
    if interval is not None and limit is None:
        raise InvalidInput("credit_limit_cents is required when credit_limit_reset_interval is set")


def name_key(name: str) -> str:
    return name.strip().casefold()


async def _name_taken(conn: AsyncConnection, account_id: int, name: str, except_id: str | None = None) -> bool:
    q = select(guardrails.c.id).where(
        guardrails.c.account_id == account_id,
        guardrails.c.deleted_at.is_(None),
        guardrails.c.name_key == name_key(name),
    )
    if except_id:
        q = q.where(guardrails.c.id != except_id)
    return (await conn.execute(q)).first() is not None


def _visible(who: Principal) -> ColumnElement[bool]:
    live = (guardrails.c.account_id == who.account_id) & guardrails.c.deleted_at.is_(None)
    if who.role == "admin":
        return live
    own_keys = select(api_keys.c.id).where(api_keys.c.membership_id == who.membership_id)
    bound_to_me = select(guardrail_assignments.c.guardrail_id).where(
        or_(
            guardrail_assignments.c.api_key_id.in_(own_keys), guardrail_assignments.c.membership_id == who.membership_id
        )
    )
    return live & (or_(guardrails.c.created_by == who.membership_id, guardrails.c.id.in_(bound_to_me)))


async def _load(conn: AsyncConnection, who: Principal, guardrail_id: str) -> Guardrail:
    row = (
        (await conn.execute(select(guardrails).where(_visible(who), guardrails.c.id == guardrail_id)))
        .mappings()
        .first()
    )
    if row is None:
        raise record_not_found()
    return Guardrail.from_row(row)


async def _may_change(conn: AsyncConnection, who: Principal, guardrail: Guardrail) -> None:
    """Admins change any guardrail; others only ones they created that are bound only to their own keys, and
    only by themselves: a guardrail an admin bound (even the member's own) is the admin's to change."""
    if who.role == "admin":
        return
    assigned = (
        await conn.execute(
            select(
                guardrail_assignments.c.api_key_id,
                guardrail_assignments.c.membership_id,
                api_keys.c.membership_id,
                guardrail_assignments.c.created_by,
            )
            .outerjoin(api_keys, api_keys.c.id == guardrail_assignments.c.api_key_id)
            .where(guardrail_assignments.c.guardrail_id == guardrail.id)
        )
    ).all()
    foreign = any(a[1] is not None or a[2] != who.membership_id or a[3] != who.membership_id for a in assigned)
    if guardrail.created_by != who.membership_id or foreign:
        raise Forbidden("Only an account admin can change this guardrail")


async def list_guardrails(db: Database, who: Principal) -> list[Guardrail]:
    async with db.read() as conn:
        rows = (
            (await conn.execute(select(guardrails).where(_visible(who)).order_by(guardrails.c.created_at)))
            .mappings()
            .all()
        )
    return [Guardrail.from_row(r) for r in rows]


async def get_guardrail(db: Database, who: Principal, guardrail_id: str) -> Guardrail:
    async with db.read() as conn:
        return await _load(conn, who, guardrail_id)


async def create_guardrail(db: Database, who: Principal, fields: dict[str, Any]) -> Guardrail:
    """A new guardrail from the request's fields (`name` required, checked by the caller)."""
    check_limits(fields.get("credit_limit_cents"), fields.get("credit_limit_reset_interval"))
    now = time.time()
    name = fields["name"].strip()
    row = {
        "id": new_prefixed_id("guardrail"),
        "account_id": who.account_id,
        "created_by": who.membership_id,
        "enabled": True,
        "description": None,
        "credit_limit_cents": None,
        "credit_limit_reset_interval": None,
        "model_budgets": None,
        **{f: None for f in LIST_FIELDS},
        **{f: None for f in RATE_FIELDS},
        **fields,
        "name": name,
        "name_key": name_key(name),
        "created_at": now,
        "updated_at": now,
        "deleted_at": None,
    }
    async with db.write() as conn:
        if await _name_taken(conn, who.account_id, name):
            raise InvalidInput(f"A guardrail named {name!r} already exists")
        await conn.execute(insert(guardrails).values(**row))
    return Guardrail.from_row(row)


async def update_guardrail(db: Database, who: Principal, guardrail_id: str, fields: dict[str, Any]) -> Guardrail:
    fields = dict(fields)
    async with db.write() as conn:
        current = await _load(conn, who, guardrail_id)
        await _may_change(conn, who, current)
        if "credit_limit_cents" in fields and fields["credit_limit_cents"] is None:
            fields["credit_limit_reset_interval"] = None  # clearing the limit clears its window
        check_limits(
            fields.get("credit_limit_cents", current.credit_limit_cents),
            fields.get("credit_limit_reset_interval", current.credit_limit_reset_interval),
        )
        if "name" in fields:
            fields["name"] = fields["name"].strip()
            fields["name_key"] = name_key(fields["name"])
            if await _name_taken(conn, who.account_id, fields["name"], except_id=current.id):
                raise InvalidInput(f"A guardrail named {fields['name']!r} already exists")
        fields["updated_at"] = time.time()
        await conn.execute(update(guardrails).where(guardrails.c.id == current.id).values(**fields))
    shown: dict[str, Any] = {
        k: _tuple(v) if k in LIST_FIELDS or k == "model_budgets" else v for k, v in fields.items() if k != "name_key"
    }
    return replace(current, **shown)


async def delete_guardrail(db: Database, who: Principal, guardrail_id: str) -> None:
    """Soft delete: the name becomes free again and every assignment of it goes (one transaction)."""
    async with db.write() as conn:
        current = await _load(conn, who, guardrail_id)
        await _may_change(conn, who, current)
        await conn.execute(update(guardrails).where(guardrails.c.id == current.id).values(deleted_at=time.time()))
        await conn.execute(delete(guardrail_assignments).where(guardrail_assignments.c.guardrail_id == current.id))


# ------------------------------------------------------------------------------------------- assignments


def _visible_assignments(who: Principal) -> ColumnElement[bool]:
    cond = guardrail_assignments.c.account_id == who.account_id
    if who.role != "admin":
        own_keys = select(api_keys.c.id).where(api_keys.c.membership_id == who.membership_id)
        cond = cond & guardrail_assignments.c.api_key_id.in_(own_keys)
    return cond


async def list_assignments(db: Database, who: Principal) -> list[Assignment]:
    async with db.read() as conn:
        rows = (
            (
                await conn.execute(
                    select(guardrail_assignments)
                    .where(_visible_assignments(who))
                    .order_by(guardrail_assignments.c.created_at)
                )
            )
            .mappings()
            .all()
        )
    return [Assignment.from_row(r) for r in rows]


async def create_assignment(
    db: Database, who: Principal, guardrail_id: str, *, api_key_id: str | None = None, membership_id: str | None = None
) -> Assignment:
    """Bind a live guardrail to one API key or one member (exactly one, checked by the caller)."""
    if membership_id is not None and who.role != "admin":
        raise Forbidden("Only an account admin can bind a guardrail to a member")
    row = {
        "id": new_prefixed_id("gassign"),
        "account_id": who.account_id,
        "guardrail_id": guardrail_id,
        "api_key_id": api_key_id,
        "membership_id": membership_id,
        "created_by": who.membership_id,
        "created_at": time.time(),
    }
    async with db.write() as conn:
        live = await conn.execute(
            select(guardrails.c.id).where(
                guardrails.c.id == guardrail_id,
                guardrails.c.account_id == who.account_id,
                guardrails.c.deleted_at.is_(None),
            )
        )
        if live.first() is None:
            raise record_not_found()
        if api_key_id is not None:
            owner = (
                await conn.execute(
                    select(api_keys.c.membership_id).where(
                        api_keys.c.id == api_key_id,
                        api_keys.c.account_id == who.account_id,
                        api_keys.c.kind == "api",
                        api_keys.c.deleted_at.is_(None),
                    )
                )
            ).first()
            if owner is None:
                raise record_not_found()
            if who.role != "admin" and owner[0] != who.membership_id:
                raise Forbidden("You can only bind guardrails to your own API keys")
            target = guardrail_assignments.c.api_key_id == api_key_id
        else:
            member = (
                await conn.execute(
                    select(memberships.c.id).where(
                        memberships.c.id == membership_id, memberships.c.account_id == who.account_id
                    )
                )
            ).first()
            if member is None:
                raise record_not_found()
            target = guardrail_assignments.c.membership_id == membership_id
        if (await conn.execute(select(guardrail_assignments.c.id).where(target))).first() is not None:
            raise InvalidInput("This target already has a guardrail; delete its assignment first")
        await conn.execute(insert(guardrail_assignments).values(**row))
    return Assignment.from_row(row)


async def delete_assignment(db: Database, who: Principal, assignment_id: str) -> None:
    async with db.write() as conn:
        found = (
            await conn.execute(
                select(guardrail_assignments.c.id, guardrail_assignments.c.created_by).where(
                    _visible_assignments(who), guardrail_assignments.c.id == assignment_id
                )
            )
        ).first()
        if found is None:
            raise record_not_found()
        if who.role != "admin" and found[1] != who.membership_id:
            # the admin's guardrail on a member's key is the admin's to lift, not the member's
            raise Forbidden("Only an account admin can delete an assignment an admin made")
        await conn.execute(delete(guardrail_assignments).where(guardrail_assignments.c.id == found[0]))
