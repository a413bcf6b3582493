"""YAML loading for the bundled data files (catalog, model tables): libyaml's C parser when PyYAML has it,
which makes start-up several times faster than the pure-Python one; identical results either way.

Even libyaml builds the objects in Python (~40 ms for the catalog, every start). So, as Python does with
bytecode, each file's parsed data is kept as JSON in a `__pycache__` folder beside it, named by a hash of
the file's bytes and the parser's version (an edited file is parsed afresh, never served stale), and read
back (~2 ms) instead of parsing. Only data JSON gives back exactly is kept (not dates, non-string keys, NaN);
nothing is written when bytecode is not (PYTHONDONTWRITEBYTECODE) or the folder is read-only."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

import orjson

CACHE_DIR = "__pycache__"


def _parse(text: str) -> Any:
    import yaml  # (only when a file is not cached yet)

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _parser_version() -> str:
    """Changes when PyYAML is installed again (upgraded or not), without importing it (~9 ms) or reading the
    package metadata (~25 ms)."""
    spec = importlib.util.find_spec("yaml")
    origin = os.stat(spec.origin) if spec is not None and spec.origin else None
    return f"{origin.st_size}:{origin.st_mtime_ns}" if origin else ""


def cached_path(path: Path, raw: bytes) -> Path:
    """Where the parsed data of `path` (holding `raw`) is kept."""
    digest = hashlib.sha256(raw + b"\0pyyaml " + _PARSER.encode()).hexdigest()[:32]
    return path.parent / CACHE_DIR / f"{path.name}.{digest}.json"


def load_yaml(path: Path) -> Any:
    raw = path.read_bytes()
    cache = cached_path(path, raw)
    try:
        return orjson.loads(cache.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        pass
    data = _parse(raw.decode("utf-8"))
    if not sys.dont_write_bytecode:
        _keep(cache, data)
    return data


def _keep(cache: Path, data: Any) -> None:
    try:
        encoded = orjson.dumps(data)
    except TypeError:  # (a date, a set, a non-string key: JSON cannot hold it)
        return
    if orjson.loads(encoded) != data:  # (NaN, or anything JSON would give back changed)
        return
    tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
    try:
        cache.parent.mkdir(exist_ok=True)
        tmp.write_bytes(encoded)
        os.replace(tmp, cache)  # (readers see the whole file or none)
        source = cache.name.rsplit(".", 2)[0]
        for old in cache.parent.glob(f"{source}.*.json"):  # the data of earlier versions of the file
            if old != cache and old.name.rsplit(".", 2)[0] == source:
                old.unlink(missing_ok=True)
    except OSError:  # read-only install: parse every time
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


_PARSER = _parser_version()
