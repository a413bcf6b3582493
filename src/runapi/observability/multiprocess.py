"""Metrics across the processes of `runapi serve --workers N`: prometheus_client's multiprocess mode.

Each process writes its samples to files in PROMETHEUS_MULTIPROC_DIR and whichever process answers
/metrics merges them all. The variable is read when prometheus_client is imported, so it must be set before
the processes start: `serve --workers N` sets it (to a fresh directory) when it is not set already."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

ENV = "PROMETHEUS_MULTIPROC_DIR"


def share_metrics_between_processes() -> str:
    """The directory the processes started after this call share (a new one, removed at exit, unless the
    environment names one: e.g. to also count a `runapi worker` on the same host)."""
    path = os.environ.get(ENV)
    if path:
        os.makedirs(path, exist_ok=True)
        return path
    path = tempfile.mkdtemp(prefix="runapi-metrics-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    os.environ[ENV] = path
    return path
