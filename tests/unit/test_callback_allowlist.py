"""An account's callback URL allow-list (callbacks/allowlist.py): which entries are accepted, and which URLs they
allow. Over HTTP (the endpoint, roles, a create refused): tests/e2e/test_callback_standard.py."""

from __future__ import annotations

import pytest

from runapi.callbacks.allowlist import MAX_ENTRIES, allowed, normalized


def test_no_entries_allow_any_url():
    assert allowed("https://anywhere.example/cb", ())


@pytest.mark.parametrize(
    ("entry", "url", "ok"),
    [
        ("hooks.example.com", "https://hooks.example.com/cb", True),
        ("hooks.example.com", "http://HOOKS.example.com:8080/any?x=1", True),
        ("Hooks.Example.com", "https://hooks.example.com./cb", True),
        ("hooks.example.com", "https://evil-hooks.example.com/cb", False),
        ("hooks.example.com", "https://hooks.example.com.evil.net/cb", False),
        ("hooks.example.com", "https://hooks.example.com@evil.net/cb", False),  # user info, host is evil.net
        ("*.example.com", "https://a.b.example.com/cb", True),
        ("*.example.com", "https://example.com/cb", False),
        ("*.example.com", "https://badexample.com/cb", False),
        ("127.0.0.1", "http://127.0.0.1:9000/cb", True),
        ("::1", "http://[::1]:9000/cb", True),
        ("https://hooks.example.com/runapi", "https://hooks.example.com/runapi", True),
        ("https://hooks.example.com/runapi", "https://hooks.example.com/runapi/tasks?x=1", True),
        ("https://hooks.example.com/runapi", "https://hooks.example.com/runapix", False),
        ("https://hooks.example.com/runapi/", "https://hooks.example.com/runapi/x", True),
        ("https://hooks.example.com/runapi/", "https://hooks.example.com/other", False),
        ("https://hooks.example.com", "https://hooks.example.com/anything", True),
        ("https://hooks.example.com", "http://hooks.example.com/anything", False),  # scheme
        ("https://hooks.example.com", "https://hooks.example.com:8443/anything", False),  # port
        ("https://hooks.example.com:443/", "https://hooks.example.com/x", True),  # the default port
        ("https://hooks.example.com/", "https://hooks.example.com.evil.net/", False),
        ("https://hooks.example.com/", "ftp://hooks.example.com/", False),
        ("https://hooks.example.com/", "not a url", False),
    ],
)
def test_matching(entry, url, ok):
    assert allowed(url, normalized([entry])) is ok


def test_any_entry_may_allow():
    entries = normalized(["a.example", "https://b.example/cb/"])
    assert allowed("https://a.example/x", entries) and allowed("https://b.example/cb/1", entries)
    assert not allowed("https://b.example/other", entries)


def test_entries_are_stripped_deduplicated_and_checked():
    assert normalized([" a.example ", "", "a.example", "https://b.example/x"]) == ("a.example", "https://b.example/x")
    for bad in (
        "not a host",
        "a_b.example",
        "*.",
        "ftp://a.example/",
        "https://",
        "https://user:pw@a.example/",
        "https://a.example/?q=1",
        "https://a.example/#f",
        "a." + "b" * 400,
    ):
        with pytest.raises(ValueError, match=r"callback_url_allowlist\[0\]"):
            normalized([bad])
    with pytest.raises(ValueError, match=f"at most {MAX_ENTRIES} entries"):
        normalized([f"h{i}.example" for i in range(MAX_ENTRIES + 1)])


def test_the_list_read_on_every_create_takes_one_hop_on_sqlite(tmp_path, tmp_path_factory, monkeypatch):
    """A create naming a callback_url reads the account's list: on a SQLite file that is a compiled plain
    sqlite3 read on the read pool (read_rows), not a read through the async engine; same answers."""
    import asyncio

    from runapi.auth import admin
    from runapi.callbacks import allowlist
    from runapi.settings import Settings
    from runapi.store import Database
    from tests.support.migrated_db import copy_into, migrated_template

    copy_into(migrated_template(tmp_path_factory), tmp_path)

    async def go() -> None:
        db = Database(Settings(data_dir=tmp_path).resolved_database_url)
        try:
            account = await admin.create_account(db, "a", "a@example.com", 0)
            account_id = int(account["account_id"])
            assert await allowlist.get(db, account_id) == ()
            await allowlist.put(db, account_id, ("hooks.example.com", "https://x.example/cb/"))

            def no_async_read() -> None:
                raise AssertionError("the allow-list was read through the async engine")

            monkeypatch.setattr(db, "read", no_async_read)
            assert await allowlist.get(db, account_id) == ("hooks.example.com", "https://x.example/cb/")
            assert await allowlist.get(db, account_id + 1000) == ()  # (no such account: no list)
        finally:
            monkeypatch.undo()
            await db.dispose()

    asyncio.run(go())
