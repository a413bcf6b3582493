"""Capturing the process's log lines as the configured handler writes them (tests of logging, unit and e2e)."""

from __future__ import annotations

import io
import json
import logging

import pytest

from runapi.observability.logs import make_handler


@pytest.fixture
def captured_logs():
    """Every log record of the process, as the configured handler writes it, at INFO and above."""

    def install(log_format: str) -> io.StringIO:
        stream = io.StringIO()
        handler = make_handler(log_format, stream)
        root = logging.getLogger()
        installed.append((handler, root.level))
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        return stream

    installed: list[tuple[logging.Handler, int]] = []
    yield install
    root = logging.getLogger()
    for handler, level in installed:
        root.removeHandler(handler)
        root.setLevel(level)


def json_lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
