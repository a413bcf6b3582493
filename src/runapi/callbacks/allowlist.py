"""An account's callback URL allow-list: the hosts or URL prefixes a task's callback_url must match. Empty (the
default) allows any URL; the SSRF rules of net/safe_http.py apply either way (they are checked separately).

An entry is either a host — `hooks.example.com`, or `*.example.com` for its subdomains (not the apex) — which
allows any http(s) URL on that host, or a URL prefix — `https://hooks.example.com/runapi/` — which allows URLs
with the same scheme, host and port whose path is the prefix's or lies below it (`/runapi` allows `/runapi` and
`/runapi/x`, not `/runapix`). Hosts compare case-insensitively as the sender parses them (httpx.URL), so
`https://hooks.example.com@evil.example/` is on evil.example whatever its text starts with."""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass

import httpx
from sqlalchemy import bindparam, select, update

from ..store import Database
from ..store.schema import accounts

MAX_ENTRIES = 50
MAX_ENTRY_CHARS = 300
DEFAULT_PORTS = {"http": 80, "https": 443}
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"^(?:\*\.)?{_LABEL}(?:\.{_LABEL})*$")


@dataclass(frozen=True)
class Target:
    """A URL as the sender would reach it."""

    scheme: str
    host: str
    port: int
    path: str


def _target(url: str) -> Target | None:
    try:
        u = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return None
    if u.scheme not in DEFAULT_PORTS or not u.host:
        return None
    return Target(u.scheme, u.host.lower().rstrip("."), u.port or DEFAULT_PORTS[u.scheme], u.path or "/")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def entry_error(entry: str) -> str | None:
    """Why `entry` cannot be an allow-list entry, or None when it can."""
    if len(entry) > MAX_ENTRY_CHARS:
        return f"must be at most {MAX_ENTRY_CHARS} characters"
    if "://" not in entry:
        host = entry.lower().rstrip(".")
        if _HOST.match(host) or _is_ip(host):
            return None
        return "must be a host name (hooks.example.com, *.example.com), an IP address or an http(s) URL prefix"
    target = _target(entry)
    if target is None:
        return "must be an http:// or https:// URL with a host"
    u = httpx.URL(entry)
    if u.userinfo or u.query or u.fragment:
        return "a URL prefix may not carry user info, a query or a fragment"
    return None


def normalized(entries: list[str]) -> tuple[str, ...]:
    """The entries as stored: stripped, blank ones dropped, duplicates once, in the given order. ValueError
    naming the first bad entry (its index in the list as sent) or the count."""
    if len(entries) > 2 * MAX_ENTRIES:  # blanks and duplicates are dropped, but not without bound
        raise ValueError(f"callback_url_allowlist may hold at most {MAX_ENTRIES} entries (got {len(entries)})")
    kept: list[str] = []
    for i, raw in enumerate(entries):
        entry = raw.strip()
        if not entry:
            continue
        problem = entry_error(entry)
        if problem:
            raise ValueError(f"callback_url_allowlist[{i}] ({entry[:80]!r}) {problem}")
        if entry not in kept:
            kept.append(entry)
    if len(kept) > MAX_ENTRIES:
        raise ValueError(f"callback_url_allowlist may hold at most {MAX_ENTRIES} entries (got {len(kept)})")
    return tuple(kept)


def _matches(target: Target, entry: str) -> bool:
    if "://" not in entry:
        host = entry.lower().rstrip(".")
        if host.startswith("*."):
            return target.host.endswith(host[1:])
        return target.host == host.strip("[]")
    prefix = _target(entry)
    if prefix is None or (prefix.scheme, prefix.host, prefix.port) != (target.scheme, target.host, target.port):
        return False
    if prefix.path in ("", "/") or target.path == prefix.path:
        return True
    base = prefix.path if prefix.path.endswith("/") else prefix.path + "/"
    return target.path.startswith(base)


def allowed(url: str, entries: tuple[str, ...]) -> bool:
    """May a callback go to `url` under these entries? Any URL when there are none."""
    if not entries:
        return True
    target = _target(url)
    return target is not None and any(_matches(target, e) for e in entries)


def _decode(stored: str | None) -> tuple[str, ...]:
    if not stored:
        return ()
    return tuple(str(e) for e in json.loads(stored))


# read on every create that names a callback_url: a constant statement, one thread hop on SQLite (read_rows)
ALLOWLIST_QUERY = select(accounts.c.callback_url_allowlist).where(accounts.c.id == bindparam("account_id"))


async def get(db: Database, account_id: int) -> tuple[str, ...]:
    rows = await db.read_rows(ALLOWLIST_QUERY, account_id=account_id)
    return _decode(rows[0]["callback_url_allowlist"] if rows else None)


async def put(db: Database, account_id: int, entries: tuple[str, ...]) -> tuple[str, ...]:
    """Replace the account's list (already `normalized`); an empty one allows any URL again."""
    async with db.write() as conn:
        await conn.execute(
            update(accounts)
            .where(accounts.c.id == account_id)
            .values(callback_url_allowlist=json.dumps(list(entries)) if entries else None)
        )
    return entries
