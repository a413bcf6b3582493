"""Hashes of every Suno sandbox generator's output for every catalog example, run directly (no server): the
before/after check of a refactor. `python -m tests.support.suno_golden OUT.json` writes them; `--compare OLD.json`."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from runapi.catalog import get_catalog
from runapi.domain.task import Task, TaskState
from runapi.providers.base import TaskFailed, TaskInput
from runapi.providers.sandbox import generators, samples
from runapi.providers.sandbox.base import Inputs

CATALOG = get_catalog()


class MemoryStorage:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    async def read(self, key: str) -> bytes | None:
        return self.files.get(key)

    async def put(self, key: str, data: bytes, content_type: str = "") -> None:
        self.files[key] = data


class SampleInputs(Inputs):
    """Every fetched URL is the sample file of its extension."""

    async def fetch(self, url: str, max_bytes: int | None = None, what: str = "file") -> bytes:
        return samples.sample_bytes(url.rsplit(".", 1)[-1])


def _keys(value: Any, keys: list[str]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$file"}:
            return {"$key": keys[value["$file"]]}
        return {k: _keys(v, keys) for k, v in value.items()}
    if isinstance(value, list):
        return [_keys(v, keys) for v in value]
    return value


class Runner:
    def __init__(self) -> None:
        self.storage = MemoryStorage()
        self.inputs = SampleInputs(None, self.storage, 50 << 20)  # type: ignore[arg-type]
        self.rows: dict[str, dict[str, Any]] = {}

    async def row_for(self, kind: str) -> dict[str, Any]:
        if kind not in self.rows:
            fam, act = kind.split("/")
            action = CATALOG.action(fam, act)
            self.rows[kind] = (await self.run(action, 0, copy.deepcopy(action.examples[0])))[1]
        return self.rows[kind]

    async def run(self, action, index: int, params: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        refs: dict[str, Task] = {}
        for p in action.params.values():
            if p.name not in params:
                continue
            if p.record_ref:
                kind = (
                    next(k for k in p.record_ref if "voice" in k)
                    if params.get("persona_type") == "voice"
                    else next(iter(p.record_ref))
                )
                row = await self.row_for(kind)
                value: Any = row["result"]["extra"]
                for part in p.record_ref[kind].split(".")[0:]:
                    value = value[part]
                params[p.name] = value
                refs[p.name] = _completed(row)
            if p.task_ref:
                row = await self.row_for(p.task_ref[0])
                params[p.name] = row["id"]
                refs[p.name] = _completed(row)
        model = action.models.get(params.get("model")) if params.get("model") else next(iter(action.models.values()))
        spec = model.sandbox if model else action.sandbox
        task = TaskInput(id=f"{action.key}#{index}", action=action, model=model, params=params, refs=refs)
        try:
            done = await generators()[spec.generator](self.inputs, task, spec)
        except TaskFailed as exc:
            return {"failed": str(exc)}, {}
        keys = []
        for n, out in enumerate(done.outputs):
            key = f"{task.id}/{n}.{out.extension}"
            self.storage.files[key] = out.data
            keys.append(key)
        row = {"id": task.id, "action": action.name, "params": params, "result": {"extra": _keys(done.extra, keys)}}
        digest = {
            "files": [hashlib.sha256(o.data).hexdigest() for o in done.outputs],
            "extra": hashlib.sha256(json.dumps(done.extra, sort_keys=True, default=str).encode()).hexdigest(),
        }
        return digest, row


def _completed(row: dict[str, Any]) -> Task:
    """The referenced task a worker would pass the generator (what a row here records of it)."""
    return Task(
        id=row["id"],
        account_id=1,
        family="suno",
        action=row["action"],
        params=row["params"],
        state=TaskState.COMPLETED,
        price_cents=0,
        provider="sandbox",
        next_run_at=0.0,
        created_at=0.0,
        updated_at=0.0,
        result=row["result"],
    )


async def dump(only: set[str] | None = None) -> dict[str, Any]:
    runner = Runner()
    out: dict[str, Any] = {}
    actions = [a for a in CATALOG.actions() if a.key.startswith("suno/")]
    for action in actions:
        if only and action.key not in only:
            continue
        for i, example in enumerate(action.examples):
            digest, _ = await runner.run(action, i, copy.deepcopy(example))
            out[f"{action.key}#{i}"] = digest
            print(action.key, i, digest, file=sys.stderr)
    return out


if __name__ == "__main__":
    if sys.argv[1] == "--compare":
        a, b = (json.loads(Path(p).read_text()) for p in sys.argv[2:4])
        bad = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
        print("identical" if not bad else f"DIFFERENT: {bad}", f"({len(a)} vs {len(b)} examples)")
        sys.exit(1 if bad else 0)
    Path(sys.argv[1]).write_text(json.dumps(asyncio.run(dump()), indent=1, sort_keys=True))
