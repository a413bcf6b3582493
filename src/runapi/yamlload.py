"""YAML loading for the bundled data files (catalog, model tables): libyaml's C parser when PyYAML has it,
which makes start-up several times faster than the pure-Python one; identical results either way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
