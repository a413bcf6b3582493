"""Credit-limit windows, without a server. The key management API is in tests/e2e/test_keys_api.py."""

from datetime import UTC


def test_windows():
    from datetime import datetime

    from runapi.billing.ledger import window_start

    t = datetime(2026, 11, 26, 15, 30, tzinfo=UTC).timestamp()  # a Thursday
    assert window_start("daily", t) == datetime(2026, 11, 26, tzinfo=UTC).timestamp()
    assert window_start("weekly", t) == datetime(2026, 11, 23, tzinfo=UTC).timestamp()  # Monday
    assert window_start("monthly", t) == datetime(2026, 11, 1, tzinfo=UTC).timestamp()
    assert window_start(None, t) is None
