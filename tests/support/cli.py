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


class CliProcess:
    """A long-running `runapi` command (e.g. `listen`): its stderr lines collected as they come."""

    def __init__(self, *args, env=None):
        import threading

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "runapi.cli", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self.stderr_lines: list[str] = []
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stderr(self):
        for line in self.proc.stderr:
            self.stderr_lines.append(line)

    def finish(self, timeout=60):
        """Wait for it to exit by itself; its (returncode, stdout)."""
        out = self.proc.stdout.read() if self.proc.wait(timeout=timeout) is not None else ""
        return self.proc.returncode, out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
