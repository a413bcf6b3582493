"""API keys as the Keys API manages them: the SQL behind `/api/v1/keys`, rows as frozen `ApiKey` objects, and
the rules for who may change a key's limits or re-enable it. Refusals are domain errors (runapi.errors).

Minting (token, hash, insert) stays in `auth.admin.mint_key`; `create_key` hands it every setting so a key is
written with its limits in one insert, never live without them."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..billing.ledger import spent_query, window_start
from ..billing.limits import forget_key_counters
from ..errors import Forbidden, InvalidInput, record_not_found
from ..ratelimit.policy import FIELDS as RATE_FIELDS
from ..ratelimit.policy import RateLimits
from ..store import Database
from ..store.schema import api_keys, guardrail_assignments
from . import admin
from .principal import Principal

INTERVALS = ("daily", "weekly", "monthly")
LIMIT_FIELDS = ("credit_limit_cents", "credit_limit_reset_interval", "allowed_models", *RATE_FIELDS)
# The usage windows GET /api/v1/keys/{id} reports, by their answer's suffix.
USAGE_WINDOWS = (("total", None), ("today", "daily"), ("this_week", "weekly"), ("this_month", "monthly"))


@dataclass(frozen=True)
class ApiKey:
    id: str
    account_id: int
    membership_id: str
    kind: str  # api | management
    name: str | None
    masked: str
    enabled: bool
    credit_limit_cents: int | None
    credit_limit_reset_interval: str | None
    allowed_models: tuple[str, ...] | None
    limits_set_by: str | None  # the membership that last set the limits / disabled the key
    disabled_by: str | None
    created_at: float
    last_used_at: float | None
    guardrail_id: str | None = None  # the guardrail bound to the key, if any
    rpm_limit: int | None = None  # requests per minute (None: no limit)
    tpm_limit: int | None = None  # LLM tokens (input + output) per minute
    max_parallel_requests: int | None = None  # requests in flight

    @property
    def rate_limits(self) -> RateLimits:
        return RateLimits(self.rpm_limit, self.tpm_limit, self.max_parallel_requests)

    @classmethod
    def from_row(cls, row: Any) -> ApiKey:
        models = row["allowed_models"]
        return cls(
            id=row["id"],
            account_id=row["account_id"],
            membership_id=row["membership_id"],
            kind=row["kind"],
            name=row["name"],
            masked=row["masked"],
            enabled=bool(row["enabled"]),
            credit_limit_cents=row["credit_limit_cents"],
            credit_limit_reset_interval=row["credit_limit_reset_interval"],
            allowed_models=tuple(models) if models else None,
            limits_set_by=row["limits_set_by"],
            disabled_by=row["disabled_by"],
            created_at=row["created_at"],
            last_used_at=row["last_used_at"],
            guardrail_id=row.get("guardrail_id"),
            rpm_limit=row.get("rpm_limit"),
            tpm_limit=row.get("tpm_limit"),
            max_parallel_requests=row.get("max_parallel_requests"),
        )


def check_limit_pair(limit: int | None, interval: str | None) -> None:
    """A credit limit needs the window it resets on."""
    if limit is not None and interval is None:
        raise InvalidInput(
            "credit_limit_reset_interval is required when credit_limit_cents is set "
            f"(allowed values: {', '.join(INTERVALS)})"
        )


def _visible(who: Principal) -> ColumnElement[bool]:
    """Admins manage every API key of the account; other members only their own."""
    cond = (api_keys.c.account_id == who.account_id) & (api_keys.c.kind == "api") & api_keys.c.deleted_at.is_(None)
    if who.role != "admin":
        cond = cond & (api_keys.c.membership_id == who.membership_id)
    return cond


def _select_keys(who: Principal) -> Select[Any]:
    return (
        select(api_keys, guardrail_assignments.c.guardrail_id)
        .outerjoin(guardrail_assignments, guardrail_assignments.c.api_key_id == api_keys.c.id)
        .where(_visible(who))
    )


async def list_keys(db: Database, who: Principal) -> list[ApiKey]:
    async with db.read() as conn:
        rows = (await conn.execute(_select_keys(who).order_by(api_keys.c.created_at))).mappings().all()
    return [ApiKey.from_row(r) for r in rows]


async def get_key(db: Database, who: Principal, key_id: str) -> ApiKey:
    async with db.read() as conn:
        row = (await conn.execute(_select_keys(who).where(api_keys.c.id == key_id))).mappings().first()
    if row is None:
        raise record_not_found()
    return ApiKey.from_row(row)


async def key_usage(db: Database, key: ApiKey) -> dict[str, int]:
    """Net spend of the key per window: {"total": …, "today": …, "this_week": …, "this_month": …}."""
    queries = [
        (label, spent_query(key.account_id, window_start(interval), api_key_id=key.id))
        for label, interval in USAGE_WINDOWS
    ]  # spent_since's statements, run in one thread hop (each its own committed snapshot, as before)
    return await db.read_sync(lambda conn: {label: -int(conn.execute(q).scalar_one()) for label, q in queries})


def initial_settings(who: Principal, fields: dict[str, Any]) -> dict[str, Any]:
    """The columns a new key is inserted with, from the fields the request gave: a limit without an amount has
    no window, and the creator owns whatever limits or disabling it starts with."""
    check_limit_pair(fields.get("credit_limit_cents"), fields.get("credit_limit_reset_interval"))
    limit = fields.get("credit_limit_cents")
    settings: dict[str, Any] = {
        "credit_limit_cents": limit,
        "credit_limit_reset_interval": fields.get("credit_limit_reset_interval") if limit is not None else None,
        "allowed_models": fields.get("allowed_models"),
        "enabled": fields.get("enabled", True),
        **{f: fields.get(f) for f in RATE_FIELDS},
    }
    restricted = limit is not None or bool(settings["allowed_models"]) or any(settings[f] for f in RATE_FIELDS)
    settings["limits_set_by"] = who.membership_id if restricted else None
    settings["disabled_by"] = None if settings["enabled"] else who.membership_id
    return settings


async def create_key(db: Database, who: Principal, fields: dict[str, Any]) -> tuple[ApiKey, str]:
    """A new API key of the caller's membership, with its settings in the same insert; returns it and its
    token (shown once)."""
    settings = initial_settings(who, fields)
    minted = await admin.mint_key(
        db, who.account_id, "api", name=fields.get("name"), membership_id=who.membership_id, settings=settings
    )
    key = ApiKey.from_row(
        {
            **settings,
            "id": minted.id,
            "account_id": who.account_id,
            "membership_id": who.membership_id,
            "kind": "api",
            "name": fields.get("name"),
            "masked": minted.masked,
            "created_at": minted.created_at,
            "last_used_at": None,
        }
    )
    return key, minted.token


def ownership(who: Principal, key: ApiKey, fields: dict[str, Any]) -> dict[str, Any]:
    """Who owns the key's limits and its disabling after this change (columns to update). A member may set
    and lift only limits they set themselves, and re-enable only a key they disabled; what an admin set on a
    member's key only an admin can undo. Tightening (disabling) is always allowed."""
    out: dict[str, Any] = {}
    admin_call = who.role == "admin"
    if any(f in fields for f in LIMIT_FIELDS):
        if not admin_call and key.limits_set_by not in (None, who.membership_id):
            raise Forbidden("Only an account admin can change the limits an admin set on this key")
        limit = fields.get("credit_limit_cents", key.credit_limit_cents)
        models = fields.get("allowed_models", key.allowed_models)
        rates = [fields.get(f, getattr(key, f)) for f in RATE_FIELDS]
        unlimited = limit is None and not models and all(r is None for r in rates)
        out["limits_set_by"] = None if unlimited else who.membership_id
    if fields.get("enabled") is True and not key.enabled:
        if not admin_call and key.disabled_by not in (None, who.membership_id):
            raise Forbidden("Only an account admin can re-enable a key an admin disabled")
        out["disabled_by"] = None
    elif fields.get("enabled") is False and (key.enabled or admin_call or key.disabled_by is None):
        out["disabled_by"] = who.membership_id  # (a member disabling again keeps an admin's disabling)
    return out


def _applied(key: ApiKey, columns: dict[str, Any]) -> ApiKey:
    changes = dict(columns)
    if "allowed_models" in changes:
        changes["allowed_models"] = tuple(changes["allowed_models"]) if changes["allowed_models"] else None
    return replace(key, **changes)


async def update_key(db: Database, who: Principal, key_id: str, fields: dict[str, Any]) -> ApiKey:
    """Apply the given fields (name, limits, allowed models, enabled) in one transaction."""
    if not fields:
        return await get_key(db, who, key_id)
    fields = dict(fields)
    async with db.write() as conn:
        key = await _locked(conn, who, key_id)  # who owns the limits is decided on what this update replaces
        if "credit_limit_cents" in fields:
            if fields["credit_limit_cents"] is None:
                fields["credit_limit_reset_interval"] = None  # clearing the limit clears its window
            else:
                check_limit_pair(
                    fields["credit_limit_cents"],
                    fields.get("credit_limit_reset_interval", key.credit_limit_reset_interval),
                )
        fields.update(ownership(who, key, fields))
        await conn.execute(update(api_keys).where(api_keys.c.id == key.id).values(**fields))
        if "credit_limit_cents" in fields or "credit_limit_reset_interval" in fields:
            await conn.execute(forget_key_counters(key.id))  # re-derived from the ledger under the new limit
    return _applied(key, fields)


async def _locked(conn: AsyncConnection, who: Principal, key_id: str) -> ApiKey:
    row = (
        (await conn.execute(_select_keys(who).where(api_keys.c.id == key_id).with_for_update(of=api_keys)))
        .mappings()
        .first()
    )
    if row is None:
        raise record_not_found()
    return ApiKey.from_row(row)


async def delete_key(db: Database, who: Principal, key_id: str) -> ApiKey:
    """Soft delete (disabled, hidden) and unbind its guardrail, in one transaction."""
    async with db.write() as conn:
        key = await _locked(conn, who, key_id)
        await conn.execute(
            update(api_keys).where(api_keys.c.id == key.id).values(deleted_at=time.time(), enabled=False)
        )
        await conn.execute(delete(guardrail_assignments).where(guardrail_assignments.c.api_key_id == key.id))
    return key


async def acting_key(db: Database, who: Principal, key_id: str) -> Principal:
    """The caller as one of their own live, enabled API keys (the web console's playground runs requests so):
    the key's allowed models and credit limit, and the caller's role, exactly as a request with that key."""
    key = await get_key(db, who, key_id)
    if key.membership_id != who.membership_id:
        raise record_not_found()  # even an admin runs the playground only as their own keys
    if not key.enabled:
        raise Forbidden("This API key is disabled")
    return Principal(
        key_id=key.id,
        account_id=key.account_id,
        membership_id=key.membership_id,
        user_id=who.user_id,
        role=who.role,
        kind="api",
        allowed_models=key.allowed_models,
        credit_limit_cents=key.credit_limit_cents,
        credit_limit_reset_interval=key.credit_limit_reset_interval,
        rate_limits=key.rate_limits,
    )
