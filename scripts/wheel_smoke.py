"""The built wheel installs and runs without the source tree (issue 17, item 7). Standard library only.

    python scripts/wheel_smoke.py [--keep]      # .ci/run runs it after the tests; about two minutes

1. Builds the wheel from a clean copy of pyproject.toml, README.md, LICENSE and src/ (no stale build/ dir can
   add a file the package-data patterns miss) and checks it holds every file under src/runapi.
2. Full install: a fresh venv, `pip install <wheel>` (dependencies from the index), then from an empty
   directory (no source tree on sys.path): `runapi --version` prints the wheel's version; `runapi serve` on a
   free port with a temporary data dir answers /health; a sandbox image task created with the key it printed
   completes, and its image downloads as a PNG.
3. LLM-only install (README "Installing from a wheel"): `pip install --no-deps <wheel>`, then the list
   `python -m runapi.requirements --without-media` prints; Pillow, PyAV and numpy are then absent, the server
   starts, answers a chat completion and an embedding from the sandbox LLM, and refuses a sandbox media task
   with 503 naming the install.

Exits non-zero with the failing step and the server's log on any failure; prints "N passed, 0 failed".
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[1]
KEY_LINE = re.compile(r"API key \(shown once\): (rk-\S+)")
MEDIA_MODULES = ("PIL", "av", "numpy")
T2I = "/api/v1/nano_banana/text_to_image"
T = TypeVar("T")


class Failed(Exception):
    pass


def run(cmd: list[str], cwd: Path | str | None = None, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env)
    if proc.returncode != 0:
        raise Failed(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def clean_env() -> dict[str, str]:
    """The caller's environment without anything that would point the server at the source tree or at the
    test services (PYTHONPATH, RUNAPI_* settings)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("RUNAPI_")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(method: str, url: str, key: str | None = None, body: object = None) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def build_wheel(work: Path) -> Path:
    copy = work / "tree"
    copy.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, copy / name)
    shutil.copytree(ROOT / "src", copy / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    dist = work / "dist"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(copy)])
    (wheel,) = dist.glob("*.whl")
    return wheel


def check_wheel_contents(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    src = ROOT / "src"
    wanted = {
        p.relative_to(src).as_posix()
        for p in (src / "runapi").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }
    missing = sorted(wanted - names)
    if missing:
        raise Failed(f"the wheel lacks {len(missing)} file(s) of src/runapi: {missing[:20]}")
    if "runapi/__init__.py" in names:  # the platform SDKs (runapi.nano_banana, ...) share the namespace
        raise Failed("the wheel makes runapi a regular package; it must stay a namespace package")


def venv(path: Path) -> Path:
    run([sys.executable, "-m", "venv", str(path)])
    return path / "bin"


def importable(bin_dir: Path, module: str) -> bool:
    code = f"import importlib.util, sys; sys.exit(0 if importlib.util.find_spec({module!r}) else 1)"
    return subprocess.run([str(bin_dir / "python"), "-c", code], env=clean_env(), cwd="/").returncode == 0


class Serve:
    """`runapi serve` from an empty directory on a free port and a fresh data dir; the key it printed."""

    def __init__(self, bin_dir: Path, work: Path, name: str):
        self.cwd = work / f"empty-{name}"
        self.cwd.mkdir()
        self.log = work / f"serve-{name}.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**clean_env(), "RUNAPI_DATA_DIR": str(work / f"data-{name}")}
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [str(bin_dir / "runapi"), "serve", "--port", str(self.port)],
                cwd=self.cwd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.key = self._wait_ready()

    def _wait_ready(self, timeout: float = 90) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Failed(f"runapi serve exited {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                if http("GET", self.url + "/health")[0] == 200:
                    found = KEY_LINE.search(self.log.read_text())
                    if not found:
                        raise Failed(f"runapi serve printed no API key:\n{self.log.read_text()}")
                    return found.group(1)
            except OSError:
                pass
            time.sleep(0.2)
        raise Failed(f"/health did not answer 200 within {timeout:g} s:\n{self.log.read_text()}")

    def call(self, method: str, path: str, body: object = None) -> tuple[int, object]:
        status, raw = http(method, self.url + path, self.key, body)
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def expect(ok: bool, what: str, detail: object = "") -> None:
    if not ok:
        raise Failed(f"{what}: {detail}")


def full_install(wheel: Path, work: Path, version: str) -> None:
    bin_dir = venv(work / "venv-full")
    run([str(bin_dir / "pip"), "install", "-q", str(wheel)], env=clean_env())
    empty = work / "empty-version"
    empty.mkdir()
    printed = run([str(bin_dir / "runapi"), "--version"], cwd=empty, env=clean_env()).strip()
    expect(printed == f"runapi, version {version}", "runapi --version", printed)
    for module in MEDIA_MODULES:
        expect(importable(bin_dir, module), f"the full install lacks {module}")
    server = Serve(bin_dir, work, "full")
    try:
        status, created = server.call("POST", T2I, {"model": "nano-banana", "prompt": "a cat in a space helmet"})
        expect(status == 202 and isinstance(created, dict), "create a sandbox task", (status, created))
        assert isinstance(created, dict)
        deadline, task = time.monotonic() + 90, created
        while time.monotonic() < deadline and task.get("status") == "processing":
            time.sleep(0.3)
            status, polled = server.call("GET", f"{T2I}/{created['id']}")
            expect(status == 200 and isinstance(polled, dict), "poll the task", (status, polled))
            assert isinstance(polled, dict)
            task = polled
        expect(task.get("status") == "completed", "the sandbox task completes", task)
        image_url = task["images"][0]["url"]
        status, png = http("GET", image_url)
        expect(status == 200 and png.startswith(b"\x89PNG"), "its image downloads as a PNG", (status, png[:16]))
    except Exception:
        print(server.log.read_text(), file=sys.stderr)
        raise
    finally:
        server.stop()


def llm_only_install(wheel: Path, work: Path) -> None:
    bin_dir = venv(work / "venv-llm")
    run([str(bin_dir / "pip"), "install", "-q", "--no-deps", str(wheel)], env=clean_env())
    listed = run([str(bin_dir / "python"), "-m", "runapi.requirements", "--without-media"], cwd="/", env=clean_env())
    requirements = work / "requirements-llm.txt"
    requirements.write_text(listed)
    run([str(bin_dir / "pip"), "install", "-q", "-r", str(requirements)], env=clean_env())
    for module in MEDIA_MODULES:
        expect(not importable(bin_dir, module), f"the LLM-only install has {module}")
    server = Serve(bin_dir, work, "llm")
    try:
        hello = {"model": "gpt-5.2", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 32}
        status, answer = server.call("POST", "/v1/chat/completions", hello)
        expect(status == 200 and isinstance(answer, dict) and answer.get("choices"), "a chat completion", answer)
        status, vectors = server.call("POST", "/v1/embeddings", {"model": "text-embedding-3-small", "input": "x"})
        expect(status == 200 and isinstance(vectors, dict) and vectors.get("data"), "an embedding", vectors)
        status, refused = server.call("POST", T2I, {"model": "nano-banana", "prompt": "a cat"})
        expect(status == 503 and "LLM-only" in str(refused), "a sandbox media task is refused by name", refused)
    except Exception:
        print(server.log.read_text(), file=sys.stderr)
        raise
    finally:
        server.stop()


def build_checked(work: Path) -> Path:
    wheel = build_wheel(work)
    check_wheel_contents(wheel)
    return wheel


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (printed)")
    args = ap.parse_args()
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    work = Path(tempfile.mkdtemp(prefix="runapi-wheel-"))
    passed = 0

    def step(name: str, fn: Callable[[], T]) -> T:
        nonlocal passed
        t0 = time.monotonic()
        result = fn()
        passed += 1
        print(f"ok   {name} ({time.monotonic() - t0:.0f} s)", flush=True)
        return result

    try:
        wheel = step("build the wheel, check its files", lambda: build_checked(work))
        step("full install: --version, serve, a sandbox task", lambda: full_install(wheel, work, version))
        step("LLM-only install: no media libraries, LLM calls", lambda: llm_only_install(wheel, work))
    except Failed as exc:
        print(f"FAIL {exc}", file=sys.stderr)
        print(f"{passed} passed, 1 failed")
        return 1
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"{passed} passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
