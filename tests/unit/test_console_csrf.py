"""The console's CSRF tokens: derived from the server secret and the session, so each session has its own,
another secret or session gives another token, and nothing but the exact token passes."""

from runapi.console import csrf

SECRET = b"s" * 48


def test_the_token_is_derived_from_the_secret_and_the_session():
    token = csrf.session_token(SECRET, "csess_1")
    assert token == csrf.session_token(SECRET, "csess_1")  # stateless: the same on every page of the session
    assert len(token) == 64 and int(token, 16) >= 0
    assert token != csrf.session_token(SECRET, "csess_2")
    assert token != csrf.session_token(b"t" * 48, "csess_1")
    assert csrf.presession_token(SECRET, "csess_1") != token  # a sign-in form's token is no session's token


def test_only_the_exact_token_matches():
    token = csrf.session_token(SECRET, "csess_1")
    assert csrf.matches(token, token)
    for given in (None, "", token[:-1], token.upper(), token + "0", csrf.session_token(SECRET, "csess_2"), "é"):
        assert not csrf.matches(token, given)
    assert not csrf.matches("", "")  # no expected token (no session): nothing matches
