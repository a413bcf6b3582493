"""JSON log lines carry their extras, exceptions and the current request id, without a server. Request ids and
access lines over HTTP are in tests/e2e/test_logging.py."""

from __future__ import annotations

import logging

from runapi.observability.context import request_id
from tests.support.logs import json_lines


def test_json_lines_carry_extras_exceptions_and_the_current_request_id(captured_logs):
    stream = captured_logs("json")
    log = logging.getLogger("runapi.test")
    token = request_id.set("ctx-req-7")
    try:
        log.warning("task %s stalled", "t-1", extra={"task_id": "t-1", "attempt": 3})
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("step failed")
    finally:
        request_id.reset(token)
    log.warning("outside any request")
    warned, failed, outside = json_lines(stream)
    assert warned == {
        "ts": warned["ts"],
        "level": "WARNING",
        "logger": "runapi.test",
        "msg": "task t-1 stalled",
        "request_id": "ctx-req-7",
        "task_id": "t-1",
        "attempt": 3,
    }
    assert failed["level"] == "ERROR" and "ValueError: boom" in failed["exc"] and failed["request_id"] == "ctx-req-7"
    assert outside["request_id"] == "-"
