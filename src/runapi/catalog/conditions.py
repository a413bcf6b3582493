"""Evaluator for the catalog's plain conditions (FORMAT.md → Conditions), e.g.
"model in [a, b] and (first_frame_image_url is set or input_mode == reference)".

Grammar:  expr := term ('or' term)* ; term := factor ('and' factor)* ; factor := 'not' factor | '(' expr ')' | clause
clause := name ('=='|'!='|'>'|'>='|'<'|'<=') (value | $other_param) | name ['not'] 'in' '[' values ']' | name 'is' ['not'] ('set'|'absent'|'present')
name := param | 'count(' param (',' param)* ')'   (how many items those params hold together: a limit across lists)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

_TOKEN = re.compile(r"""\s*(\(|\)|\[|\]|,|==|!=|>=|<=|>|<|"[^"]*"|'[^']*'|[^\s()\[\],=!<>]+)""")

Predicate = Callable[[dict[str, Any]], bool]


def _tokens(text: str) -> list[str]:
    pos, out = 0, []
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ValueError(f"bad condition near {text[pos:]!r}")
        out.append(m.group(1))
        pos = m.end()
    return out


def _literal(tok: str) -> str:
    return tok[1:-1] if len(tok) >= 2 and tok[0] == tok[-1] and tok[0] in "'\"" else tok


def is_set(value: Any) -> bool:
    """Absent, null and empty lists/strings all count as not set (the docs' examples send `[]` for none)."""
    return value is not None and value != [] and value != ""


def shown(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def count_items(values: dict[str, Any], names: tuple[str, ...]) -> int:
    """Items across several params: a list counts its items, any other set value counts one."""
    total = 0
    for name in names:
        value = values.get(name)
        total += len(value) if isinstance(value, list) else int(is_set(value))
    return total


def _compare(value: Any, op: str, rhs: str | None) -> bool:
    if op in ("==", "!="):
        return (shown(value) == rhs) == (op == "==")
    try:
        left, right = float(value), float(rhs)
    except (TypeError, ValueError):
        return False
    return {">": left > right, ">=": left >= right, "<": left < right, "<=": left <= right}[op]


class _Parser:
    def __init__(self, toks: list[str]):
        self.toks, self.i = toks, 0

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok != expected):
            raise ValueError(f"expected {expected or 'a token'}, got {tok!r}")
        self.i += 1
        return tok

    def expr(self) -> Predicate:
        parts = [self.term()]
        while self.peek() == "or":
            self.take()
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else (lambda v: any(p(v) for p in parts))

    def term(self) -> Predicate:
        parts = [self.factor()]
        while self.peek() == "and":
            self.take()
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else (lambda v: all(p(v) for p in parts))

    def factor(self) -> Predicate:
        if self.peek() == "not":
            self.take()
            inner = self.factor()
            return lambda v: not inner(v)
        if self.peek() == "(":
            self.take()
            inner = self.expr()
            self.take(")")
            return inner
        return self.clause()

    def clause(self) -> Predicate:
        name = self.take()
        if name == "count" and self.peek() == "(":
            names = self.names()
            op = self.take()
            if op not in ("==", "!=", ">", ">=", "<", "<="):
                raise ValueError(f"count(...) needs a comparison, got {op!r}")
            rhs = _literal(self.take())
            return lambda v: _compare(count_items(v, names), op, rhs)
        op = self.take()
        if op == "is":
            negate = self.peek() == "not"
            if negate:
                self.take()
            word = self.take()
            if word not in ("set", "absent", "present"):
                raise ValueError(f"expected set/absent/present, got {word!r}")
            want_set = (word != "absent") != negate
            return lambda v: is_set(v.get(name)) == want_set
        if op == "not":
            self.take("in")
            items = self.values()
            return lambda v: shown(v.get(name)) not in items
        if op == "in":
            items = self.values()
            return lambda v: shown(v.get(name)) in items
        if op in ("==", "!=", ">", ">=", "<", "<="):
            token = self.take()
            if token.startswith("$"):  # another parameter: "end > $start"
                other = token[1:]
                return lambda v: v.get(other) is not None and _compare(v.get(name), op, shown(v.get(other)))
            rhs = _literal(token)
            return lambda v: _compare(v.get(name), op, rhs)
        raise ValueError(f"unknown operator {op!r}")

    def names(self) -> tuple[str, ...]:
        self.take("(")
        names = []
        while self.peek() != ")":
            names.append(self.take())
            if self.peek() == ",":
                self.take()
        self.take(")")
        return tuple(names)

    def values(self) -> frozenset[str]:
        self.take("[")
        items = []
        while self.peek() != "]":
            items.append(_literal(self.take()))
            if self.peek() == ",":
                self.take()
        self.take("]")
        return frozenset(items)


@lru_cache(maxsize=4096)
def compile_condition(text: str) -> Predicate:
    parser = _Parser(_tokens(text))
    pred = parser.expr()
    if parser.peek() is not None:
        raise ValueError(f"unexpected {parser.peek()!r} in condition {text!r}")
    return pred


def evaluate(condition: str, values: dict[str, Any]) -> bool:
    return compile_condition(condition)(values)
