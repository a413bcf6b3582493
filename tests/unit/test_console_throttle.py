"""Sign-in throttling: failures per email and per address in fixed windows."""

from runapi.console.throttle import MAX_FAILURES_PER_ADDRESS, MAX_FAILURES_PER_EMAIL, WINDOW_SECONDS, SignInThrottle


def test_an_email_is_blocked_after_its_failures_until_the_window_ends():
    t = SignInThrottle()
    for i in range(MAX_FAILURES_PER_EMAIL):
        assert t.blocked_for("A@x.test", f"10.0.0.{i}", now=1000.0) is None
        t.failed("a@x.test", f"10.0.0.{i}", now=1000.0)
    wait = t.blocked_for("a@X.test ", "10.9.9.9", now=1010.0)  # any address, any case
    assert wait == WINDOW_SECONDS - 10
    assert t.blocked_for("b@x.test", "10.9.9.9", now=1010.0) is None  # other emails are not
    assert t.blocked_for("a@x.test", "10.9.9.9", now=1000.0 + WINDOW_SECONDS) is None  # a new window


def test_an_address_is_blocked_after_its_failures_whatever_the_email():
    t = SignInThrottle()
    for i in range(MAX_FAILURES_PER_ADDRESS):
        t.failed(f"u{i}@x.test", "10.0.0.1", now=50.0)
    assert t.blocked_for("new@x.test", "10.0.0.1", now=51.0) is not None
    assert t.blocked_for("new@x.test", "10.0.0.2", now=51.0) is None


def test_a_success_clears_the_email_count():
    t = SignInThrottle()
    for _ in range(MAX_FAILURES_PER_EMAIL - 1):
        t.failed("a@x.test", "10.0.0.1", now=5.0)
    t.succeeded("a@x.test")
    t.failed("a@x.test", "10.0.0.1", now=6.0)
    assert t.blocked_for("a@x.test", "10.0.0.3", now=7.0) is None
