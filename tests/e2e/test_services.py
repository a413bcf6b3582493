"""The composition root (runapi.services) lives below the web layer: `runapi worker` builds and runs the
services without importing runapi.api."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[2] / "src")

WORKER_RUN = textwrap.dedent("""
    import asyncio, sys
    from runapi.cli import server_cmds  # the `runapi worker` entry
    from runapi.services import build_services
    from runapi.settings import Settings

    async def main():
        services = await build_services(Settings(data_dir=sys.argv[1], sandbox_delay_seconds=0), run_workers=True)
        assert services.worker is not None
        await asyncio.sleep(0.1)  # the worker and the background loops have run once
        await services.stop()

    asyncio.run(main())
    web = sorted(m for m in sys.modules if m == "runapi.api" or m.startswith("runapi.api."))
    print("WEB:" + ",".join(web))
""")


def test_worker_runs_without_the_web_layer(tmp_path):
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env = {k: v for k, v in env.items() if not k.startswith("RUNAPI_")}  # only this test's settings
    out = subprocess.run(
        [sys.executable, "-c", WORKER_RUN, str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "WEB:", out.stdout
