"""An LLM-only install (issue 17, item 7): `runapi serve` starts and answers LLM calls with Pillow, PyAV and
numpy unimportable (a meta-path hook in the server process stands in for their absence), and refuses a sandbox
media task with 503 naming the install; the default install loads them only when the first media task runs.
scripts/wheel_smoke.py does the same with a real `pip install --no-deps` venv (in .ci/run)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.servers import TEST_KEY, free_port, wait_done

ROOT = Path(__file__).resolve().parents[2]
MEDIA = ("av", "numpy", "PIL")
NOT_INSTALLED = (*MEDIA, "boto3", "botocore")  # boto3 is the s3 extra: in neither install by default
T2I = "/api/v1/nano_banana/text_to_image"

# Run as `python -c`: makes the media libraries unimportable, then runs the `runapi` command line.
WITHOUT_MEDIA = f"""
import sys

class Unimportable:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {NOT_INSTALLED!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (made unimportable by the test)", name=name)
        return None

sys.meta_path.insert(0, Unimportable())
from runapi.cli import main
main(sys.argv[1:], prog_name="runapi")
"""


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {TEST_KEY}"}, timeout=30)

    def loaded_media(self) -> set[str]:
        """The media libraries this server process has loaded (their files mapped into it)."""
        maps = Path(f"/proc/{self.proc.pid}/maps").read_text()
        return {name for name in MEDIA if f"/{name}/" in maps}


def serve(tmp_path: Path, *launcher: str) -> Iterator[Served]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNAPI_")}  # SQLite in tmp_path, as a newcomer
    env.update(PYTHONPATH=str(ROOT / "src"), RUNAPI_DATA_DIR=str(tmp_path), RUNAPI_BOOTSTRAP_API_KEY=TEST_KEY)
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, *launcher, "serve", "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    served = Served(proc, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                if httpx.get(served.url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        yield served
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture
def without_media(tmp_path):
    yield from serve(tmp_path, "-c", WITHOUT_MEDIA)


@pytest.fixture
def default_install(tmp_path):
    yield from serve(tmp_path, "-m", "runapi.cli")


def test_llm_calls_are_served_without_the_media_libraries(without_media):
    with without_media.client() as api:
        chat = api.post(
            "/v1/chat/completions", json={"model": "gpt-5.2", "messages": [{"role": "user", "content": "hi"}]}
        )
        assert chat.status_code == 200, chat.text
        assert chat.json()["choices"][0]["message"]["content"]
        messages = api.post(
            "/v1/messages",
            json={"model": "claude-sonnet-4-6", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]},
        )
        assert messages.status_code == 200 and messages.json()["content"], messages.text
        vectors = api.post("/v1/embeddings", json={"model": "text-embedding-3-small", "input": ["a", "b"]})
        assert vectors.status_code == 200, vectors.text
        assert [len(d["embedding"]) for d in vectors.json()["data"]] == [1536, 1536]
        assert api.get("/openapi.json").status_code == 200
    assert "Traceback" not in without_media.log.read_text()


def test_a_sandbox_media_task_is_refused_by_name_and_not_billed(without_media):
    with without_media.client() as api:
        before = api.get("/api/v1/me/balance").json()["balance_cents"]
        resp = api.post(T2I, json={"model": "nano-banana", "prompt": "a cat"})
        assert resp.status_code == 503, resp.text
        assert "installed without Pillow, PyAV and numpy" in resp.json()["error"]
        assert "LLM-only" in resp.json()["error"]
        assert api.get("/api/v1/me/balance").json()["balance_cents"] == before
        # the server goes on serving
        chat = api.post(
            "/v1/chat/completions", json={"model": "gpt-5.2", "messages": [{"role": "user", "content": "hi"}]}
        )
        assert chat.status_code == 200, chat.text


def test_the_default_install_loads_the_media_libraries_with_the_first_media_task(default_install):
    assert default_install.loaded_media() == set()  # not at start-up (idle memory, start-up time)
    with default_install.client() as api:
        created = api.post(T2I, json={"model": "nano-banana", "prompt": "a cat in a space helmet"})
        assert created.status_code == 202, created.text
        done = wait_done(api, T2I, created.json()["id"], timeout=60)
        assert done["status"] == "completed", done
    assert default_install.loaded_media() >= {"PIL", "numpy"}
