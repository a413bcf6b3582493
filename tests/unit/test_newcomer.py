"""What a newcomer hits on a fresh clone (issue 12), where no server is needed: the callback check follows its
setting, admin hides a database password, and the README's links and commands hold. The rest is in
tests/e2e/test_newcomer.py."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_callback_check_follows_the_setting_and_never_waits_long():
    from runapi.net.safe_http import refused_destination

    run = asyncio.run
    assert run(refused_destination("http://127.0.0.1:8080/cb", allow_private=False))
    assert not run(refused_destination("http://127.0.0.1:8080/cb", allow_private=True))
    assert run(refused_destination("http://0.0.0.0/cb", allow_private=True))  # never, as delivery
    assert not run(refused_destination("https://93.184.216.34/cb", allow_private=False))
    # a name that does not resolve (no network here) is left to delivery, which checks every attempt
    assert not run(refused_destination("https://no-such-host.invalid/cb", allow_private=False))

    async def slow_resolver(host, port):
        await asyncio.sleep(30)
        return []

    from runapi.net import safe_http

    original = safe_http.resolve
    safe_http.resolve = slow_resolver
    try:
        assert not run(refused_destination("https://slow.example/cb", allow_private=False, deadline=0.05))
    finally:
        safe_http.resolve = original


def test_admin_hides_a_database_password(capsys):
    from runapi.cli.admin_cmds import _database
    from runapi.settings import Settings

    url = "postgresql+asyncpg://u:s3cret@127.0.0.1:9/x"
    assert _database(Settings(database_url=url), create=False) == url
    said = capsys.readouterr().err
    assert "s3cret" not in said and "127.0.0.1:9/x" in said, said


def test_readme_links_resolve_inside_the_repo_and_its_commands_use_separate_environments():
    readme = (ROOT / "README.md").read_text()
    assert "../shared" not in readme
    for link in re.findall(r"\]\(((?!https?:)[^)#]+)\)", readme):
        assert (ROOT / link).exists(), link
    assert (ROOT / "docs" / "DESIGN.md").exists()
    first, second = [line for line in readme.splitlines()[2:6] if line.startswith("python3 -m venv")]
    env_of = [re.match(r"python3 -m venv (\S+)", line).group(1) for line in (first, second)]
    assert env_of[0] != env_of[1] and "serve" in first, (first, second)
