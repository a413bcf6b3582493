"""Real runapi processes for the scale-out tests: API servers and workers as subprocesses sharing one
PostgreSQL database and one Redis, killed and restarted at will."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.servers import TEST_KEY, free_port
from tests.support.services import Services, create_database


@dataclass
class Proc:
    name: str
    argv: list[str]
    log: Path
    port: int | None = None
    popen: subprocess.Popen | None = None
    starts: int = 0
    log_offset: int = 0  # where this start's output begins

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Cluster:
    """One database, one Redis channel prefix, one data dir (the node's file store), many processes."""

    services: Services
    directory: Path
    settings: dict[str, str] = field(default_factory=dict)
    procs: list[Proc] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.database_url = create_database(self.services.database_url)
        self.env = {
            **os.environ,
            "RUNAPI_DATABASE_URL": self.database_url,
            "RUNAPI_REDIS_URL": self.services.redis_url,
            "RUNAPI_REDIS_CHANNEL_PREFIX": f"cluster{time.time_ns()}",
            "RUNAPI_DATA_DIR": str(self.directory),
            "RUNAPI_SECRET_KEY": "scale-out-test-secret",
            "RUNAPI_BOOTSTRAP_API_KEY": TEST_KEY,
            "RUNAPI_ALLOW_PRIVATE_NETWORK": "true",
            "RUNAPI_DB_POOL_SIZE": "4",
            "RUNAPI_DB_MAX_OVERFLOW": "8",
            **self.settings,
        }

    def api(self, *extra: str) -> Proc:
        port = free_port()
        return self._add(
            Proc(
                f"api{len(self.procs)}",
                ["serve", "--no-task-workers", "--port", str(port), *extra],
                self.directory / f"api{len(self.procs)}.log",
                port=port,
            )
        )

    def serve(self, *extra: str) -> Proc:
        port = free_port()
        return self._add(
            Proc(
                f"serve{len(self.procs)}",
                ["serve", "--port", str(port), *extra],
                self.directory / f"serve{len(self.procs)}.log",
                port=port,
            )
        )

    def worker(self) -> Proc:
        return self._add(Proc(f"worker{len(self.procs)}", ["worker"], self.directory / f"worker{len(self.procs)}.log"))

    def _add(self, proc: Proc) -> Proc:
        self.procs.append(proc)
        return proc

    def start(self, proc: Proc, wait: bool = True) -> None:
        proc.starts += 1
        proc.log_offset = proc.log.stat().st_size if proc.log.exists() else 0
        with proc.log.open("ab") as log:
            proc.popen = subprocess.Popen(
                [sys.executable, "-m", "runapi.cli", *proc.argv, "--log-level", "warning"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if wait:
            self.wait_ready(proc)

    def wait_ready(self, proc: Proc, timeout: float = 60) -> None:
        """An API process answers /health; a worker has printed that it runs."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if proc.popen.poll() is not None:
                raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}: {self.tail(proc)}")
            if proc.port is not None:
                try:
                    if httpx.get(f"{proc.url}/health", timeout=1).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
            elif b"runapi worker" in proc.log.read_bytes()[proc.log_offset :]:
                return
            time.sleep(0.1)
        raise RuntimeError(f"{proc.name} did not become ready: {self.tail(proc)}")

    def kill9(self, proc: Proc) -> None:
        if proc.popen and proc.popen.poll() is None:
            proc.popen.send_signal(signal.SIGKILL)
            proc.popen.wait()

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.popen and proc.popen.poll() is None:
                proc.popen.send_signal(signal.SIGTERM)
        for proc in self.procs:
            if proc.popen:
                try:
                    proc.popen.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.popen.kill()
                    proc.popen.wait()

    @staticmethod
    def tail(proc: Proc, chars: int = 3000) -> str:
        try:
            return proc.log.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""


def callback_delays(seconds: float, retries: int = 10) -> str:
    return json.dumps([seconds] * retries)
