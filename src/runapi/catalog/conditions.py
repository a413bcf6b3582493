"""Tiny evaluator for the catalog's plain conditions, e.g. "model in [a, b] and input_mode == reference".

Grammar: clause ('and' | 'or') clause ...; clause := name ('==' | '!=') value | name ['not'] 'in' '[' values ']'
| name 'is set'. 'and' binds tighter than 'or'. Values are bare words or quoted strings.
"""

from __future__ import annotations

import re
from typing import Any

_CLAUSE = re.compile(r"^\s*([\w.]+)\s*(==|!=|not in|in|is set|is not set)\s*(.*?)\s*$")


def _literal(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def _clause(text: str, values: dict[str, Any]) -> bool:
    m = _CLAUSE.match(text)
    if not m:
        raise ValueError(f"bad condition clause: {text!r}")
    name, op, rhs = m.groups()
    value = values.get(name)
    if op == "is set":
        return value is not None
    if op == "is not set":
        return value is None
    shown = str(value).lower() if isinstance(value, bool) else (None if value is None else str(value))
    if op in ("in", "not in"):
        items = [_literal(x) for x in rhs.strip().strip("[]").split(",") if x.strip()]
        return (shown in items) == (op == "in")
    return (shown == _literal(rhs)) == (op == "==")


def evaluate(condition: str, values: dict[str, Any]) -> bool:
    return any(
        all(_clause(c, values) for c in re.split(r"\s+and\s+", alternative))
        for alternative in re.split(r"\s+or\s+", condition)
    )
