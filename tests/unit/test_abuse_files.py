"""The startup warning about an exposed bind, without a server (issue 11). Quotas, rates, disk space and file
serving over HTTP are in tests/e2e/test_abuse_files.py."""

from __future__ import annotations

import logging


def test_startup_warns_about_an_exposed_bind(tmp_path, caplog):
    from runapi.app import warn_about_exposure
    from tests.support.servers import test_settings

    with caplog.at_level(logging.WARNING, logger="runapi.api"):
        warn_about_exposure(test_settings(tmp_path, host="0.0.0.0"))
    text = caplog.text
    assert "RUNAPI_PUBLIC_URL" in text and "RUNAPI_METRICS_TOKEN" in text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="runapi.api"):
        warn_about_exposure(test_settings(tmp_path, host="127.0.0.1"))
    assert caplog.text == ""
