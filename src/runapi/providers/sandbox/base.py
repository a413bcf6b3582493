"""What every sandbox generator shares: the registry, seeds, and access to the task's inputs."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from ..base import Done, TaskInput
from ..inputs import Inputs
from . import images

__all__ = ["GENERATORS", "Generator", "Inputs", "as_list", "generator", "task_seed"]

Generator = Callable[["Inputs", TaskInput, dict[str, Any]], Awaitable[Done]]
GENERATORS: dict[str, Generator] = {}


def generator(name: str) -> Callable[[Generator], Generator]:
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
