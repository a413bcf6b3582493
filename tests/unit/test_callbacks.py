"""The default callback retry delays grow, without a server. Delivery over HTTP is in
tests/e2e/test_callbacks.py."""


def test_growing_default_delays():
    from runapi.settings import DEFAULT_CALLBACK_DELAYS

    assert len(DEFAULT_CALLBACK_DELAYS) == 10
    assert all(a < b for a, b in zip(DEFAULT_CALLBACK_DELAYS, DEFAULT_CALLBACK_DELAYS[1:]))
