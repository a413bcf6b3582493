"""Finding which parameters are read: in the upstream mapping tables, and by a sandbox generator through
recording params (tests of the param-effects guard, unit and e2e)."""

from __future__ import annotations

import re
from typing import Any


class _Recording(dict):
    """The task's params as the generator sees them, noting each key it looks up. Iterating (as the task seed
    does over everything) is not a read of any one parameter."""

    def __init__(self, data: dict[str, Any], log: set[str], iteration_reads: bool = False):
        super().__init__(data)
        self._log = log
        self._iteration_reads = iteration_reads

    def __getitem__(self, key):
        self._log.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self._log.add(key)
        return super().get(key, default)

    def __contains__(self, key):
        self._log.add(key)
        return super().__contains__(key)

    def values(self):  # refs: "the one referenced task", whatever its parameter is called
        if self._iteration_reads:
            self._log.update(self.keys())
        return super().values()


def _names_in_condition(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))  # over-approximates: keywords and values too


def _spec_reads(spec: Any) -> set[str]:
    """The parameters one value spec of a mapping table reads (mapping.py's format)."""
    if isinstance(spec, str):
        return {spec[1:]} if spec.startswith("$") else set()
    if isinstance(spec, list):
        return set().union(*(_spec_reads(s) for s in spec)) if spec else set()
    if not isinstance(spec, dict):
        return set()
    names: set[str] = set()
    for key in ("param", "task_file", "each"):
        if isinstance(spec.get(key), str):
            names.add(spec[key])
    names.update(spec.get("params") or ())
    if isinstance(spec.get("index"), str):
        names.add(spec["index"])
    if "when" in spec:
        names |= _names_in_condition(spec["when"])
    for part in spec.get("concat") or ():
        names |= _spec_reads(part)
    if isinstance(spec.get("item"), dict):  # an `each` item reads its list's own fields (and `$item`)
        names |= set().union(*(_spec_reads(v) for v in spec["item"].values()), set())
    for key in ("default", "object"):
        if key in spec:
            inner = spec[key]
            names |= (
                set().union(*(_spec_reads(v) for v in inner.values()))
                if key == "object" and inner
                else _spec_reads(inner)
            )
    return names
