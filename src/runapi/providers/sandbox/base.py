"""What every sandbox generator shares: the registry, seeds, and access to the task's inputs."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from ...catalog.sandbox_schema import GENERATOR_NAMES
from ..base import Done, TaskInput
from ..inputs import Inputs
from . import images

__all__ = ["GENERATORS", "Generator", "Inputs", "as_list", "generator", "task_seed"]

# Each generator takes its own spec class (catalog/sandbox_schema.py: ImageSpec, VideoSpec, ...); the registry
# is keyed by the spec's `generator`, so the spec a generator is handed is always of its class.
Generator = Callable[["Inputs", TaskInput, Any], Awaitable[Done]]
GENERATORS: dict[str, Generator] = {}


def generator(name: str) -> Callable[[Generator], Generator]:
    if name not in GENERATOR_NAMES:  # the catalog could never name it: declare its spec in sandbox_schema.py
        raise ValueError(f"generator {name!r} has no spec in catalog/sandbox_schema.py")

    def register(fn: Generator) -> Generator:
        GENERATORS[name] = fn
        return fn

    return register


def task_seed(task: TaskInput, index: int = 0) -> bytes:
    stable = {k: v for k, v in task.params.items() if k != "callback_url"}
    return images.seed_bytes(task.action.key, json.dumps(stable, sort_keys=True, ensure_ascii=False), index)


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]
