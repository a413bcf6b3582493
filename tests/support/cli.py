"""Running the `runapi` command line as a user would: a separate process, its output captured."""

from __future__ import annotations

import os
import subprocess
import sys


def cli(*args, env=None, input=None):
    proc = subprocess.run(
        [sys.executable, "-m", "runapi.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        input=input,
        timeout=60,
    )
    return proc
