"""Fixtures of the unit tier. No server, socket or process here: those fixtures are in tests/e2e/conftest.py."""

from tests.support.logs import captured_logs  # noqa: F401  (a fixture, for the tests of logging)
