"""Query parameters of the list endpoints: the SDKs' cursor pagination (`limit`, `after`, `before`, `order`) and
the filters they share (`created_after`, `created_before` in unix seconds, plain text filters). Each bad value
is a 422 naming the parameter and what it takes, as the docs' error table says for invalid parameters. An empty
value counts as absent (what an HTML filter form sends for a field left blank)."""

from __future__ import annotations

import re

from starlette.requests import Request

from ..errors import InvalidInput
from ..store.pages import DEFAULT_LIMIT, MAX_LIMIT, PageRequest

MAX_UNIX_TIME = 253_402_300_799  # 9999-12-31T23:59:59Z
MAX_TEXT = 200
_DIGITS = re.compile(r"[0-9]{1,4}")
_UNIX_TIME = re.compile(r"[0-9]{1,12}(\.[0-9]{1,6})?")


def _given(request: Request, name: str) -> str | None:
    return request.query_params.get(name) or None


def page_request(request: Request) -> PageRequest:
    raw_limit = _given(request, "limit")
    if raw_limit is None:
        limit = DEFAULT_LIMIT
    elif _DIGITS.fullmatch(raw_limit) and 1 <= int(raw_limit) <= MAX_LIMIT:
        limit = int(raw_limit)
    else:
        raise InvalidInput(f"limit must be an integer between 1 and {MAX_LIMIT}")
    order = choice(request, "order", ("asc", "desc"), "desc")
    return PageRequest(
        limit=limit,
        after=text(request, "after"),
        before=text(request, "before"),
        order="asc" if order == "asc" else "desc",
    )


def unix_time(request: Request, name: str) -> float | None:
    """A time in unix seconds (an integer, or with up to six decimals)."""
    raw = _given(request, name)
    if raw is None:
        return None
    if not _UNIX_TIME.fullmatch(raw) or float(raw) > MAX_UNIX_TIME:
        raise InvalidInput(f"{name} must be a unix time in seconds, e.g. 1767225600")
    return float(raw)


def text(request: Request, name: str) -> str | None:
    """A plain-text filter or id: printable, at most MAX_TEXT characters (what no stored value exceeds)."""
    raw = _given(request, name)
    if raw is None:
        return None
    if len(raw) > MAX_TEXT or not raw.isprintable():
        raise InvalidInput(f"{name} must be at most {MAX_TEXT} printable characters")
    return raw


def choice(request: Request, name: str, allowed: tuple[str, ...], default: str | None = None) -> str | None:
    raw = _given(request, name)
    if raw is None:
        return default
    if raw not in allowed:
        raise InvalidInput(f"Invalid value for {name}: {raw!r}. Allowed values: {', '.join(allowed)}")
    return raw
