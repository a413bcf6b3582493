"""What every upstream adapter offers the router: start a job, check on it, cancel it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import httpx

from ..base import TaskInput
from .config import MediaDeployment
from .errors import UpstreamError
from .mapping import Context, Table

if TYPE_CHECKING:
    from ..inputs import Inputs


@dataclass
class UpstreamFile:
    """One result file: a link to download (http(s) or data: URL) or bytes the upstream already sent."""

    kind: str | None
    url: str | None = None
    data: bytes | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Finished:
    files: list[UpstreamFile]
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Started:
    """Accepted by a queue upstream; `handle` is persisted with the task and given back to `check`."""

    handle: dict[str, Any]
    poll_in: float = 2.0


@dataclass
class Running:
    poll_in: float | None = None
    handle: dict[str, Any] | None = None  # updated handle, if any
    # a catalog stage the upstream reports (e.g. Suno's first_audio_ready) and, at the action's first_file
    # stage, the files made so far: the router passes both on as Progress.stage / Progress.partial
    stage: str | None = None
    partial: Finished | None = None


class Adapter(Protocol):
    deployment: MediaDeployment

    def supports(self, action_key: str, model: str | None) -> bool:
        """Whether this adapter knows how to run (action, model)."""

    async def start(self, task: TaskInput, ctx: Context) -> Started | Finished:
        """Submit the job. Synchronous upstreams answer with the result at once. Raises UpstreamError."""

    async def check(self, task: TaskInput, handle: dict[str, Any]) -> Running | Finished:
        """Poll a started job. Raises UpstreamError."""

    async def cancel(self, handle: dict[str, Any]) -> None:
        """Best effort: stop a started job."""

    async def aclose(self) -> None:
        """Release connections."""


class AdapterClass(Protocol):
    """What the registry (registry.py) holds for each kind: a class built from its deployment, the shared
    upstream API client and the task-input reader (for adapters that upload inputs themselves)."""

    default_base_url: str  # where the upstream's API lives when the deployment names no base_url

    def pairs(self) -> frozenset[tuple[str, str]]:
        """Every (action key, model id) this kind can serve, configured or not (a classmethod on the class)."""

    def __call__(self, deployment: MediaDeployment, http: httpx.AsyncClient, inputs: Inputs) -> Adapter: ...


class Synchronous:
    """For upstreams that answer with the result at once (start returns Finished): no job to check or
    cancel, and the shared HTTP client is closed by the registry."""

    async def check(self, task: TaskInput, handle: dict[str, Any]) -> Running | Finished:
        raise UpstreamError("synchronous upstream has no job to check", job_failed=True)

    async def cancel(self, handle: dict[str, Any]) -> None:
        return None

    async def aclose(self) -> None:
        return None


class TableAdapter:
    """Base of an adapter whose (action, model) → upstream request mapping is a bundled table (`table_path`,
    read by mapping.py). Subclasses set
    `default_base_url`, `table_path` and the job protocol (start/check/cancel)."""

    default_base_url: ClassVar[str] = ""
    table_path: ClassVar[Path]

    def __init__(
        self,
        deployment: MediaDeployment,
        http: httpx.AsyncClient,
        inputs: Inputs | None = None,
        table: Table | None = None,
    ):
        self.deployment = deployment
        self.http = http
        self.inputs = inputs  # for adapters that upload inputs themselves; most upstreams fetch the links
        self.table = table or self.bundled()

    @classmethod
    def bundled(cls) -> Table:
        return Table.bundled(cls.table_path)

    @classmethod
    def pairs(cls) -> frozenset[tuple[str, str]]:
        return cls.bundled().pairs()

    def supports(self, action_key: str, model: str | None) -> bool:
        return self.table.get(action_key, model) is not None

    async def aclose(self) -> None:
        return None  # the shared client is closed by the registry
