"""The console's rate-limit fields (rpm_limit, tpm_limit, max_parallel_requests) on API keys and guardrails, over
an httpx session against a real server: set on create, edited, cleared, a bad value refused with the API's own
message (422, the typed values kept), a member refused lifting what an admin set (403, the API's message), a
POST without the CSRF token refused, and the instance-wide account limits shown read-only."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from runapi.auth import admin
from tests.e2e.test_callback_standard import console_client, page_csrf
from tests.support.servers import Server, start_server

ADMIN = "admin@localhost"  # the bootstrap account's admin
MEMBER = "limits-member@example.test"
LIFTING = "Only an account admin can change the limits an admin set on this key"
RATES = ("rpm_limit", "tpm_limit", "max_parallel_requests")


@pytest.fixture(scope="module")
def limited(tmp_path_factory) -> Iterator[tuple[Server, str, str]]:
    """A server with account limits in its settings (high: no request here meets them); the admin's and a
    member's management keys, to read back through the API what the console wrote."""
    srv = start_server(
        tmp_path_factory.mktemp("console-limits"), account_rpm_limit=100_000, account_max_parallel_requests=50
    )
    boss = srv.db_call(lambda db: admin.mint_key(db, 1, "management")).token
    _, member_key = srv.db_call(lambda db: admin.add_member_with_key(db, 1, MEMBER, "Member", "member"))
    yield srv, boss, member_key.token
    srv.stop()


def rates(server: Server, manager: str, path: str) -> dict[str, Any]:
    with server.client(manager) as m:
        body = m.get(path).json()
    body = body.get("guardrail", body)
    return {f: body[f] for f in RATES}


def form(page: httpx.Response, **fields: str) -> dict[str, str]:
    return {"csrf_token": page_csrf(page.text), **fields}


def new_key_id(page: httpx.Response) -> str:
    return re.findall(r'href="/console/keys/([^"]+)"', page.text)[-1]


def input_value(page: httpx.Response, name: str) -> str:
    found = re.search(rf'<input id="[^"]*" name="{name}"[^>]* value="([^"]*)"', page.text)
    assert found, name
    return html.unescape(found.group(1))


def test_key_rate_limits_are_set_edited_cleared_and_checked_as_the_api_checks_them(limited):
    server, boss, _ = limited
    with console_client(server, ADMIN) as c:
        page = c.get("/console/keys")
        shown = re.search(r'data-testid="account-limits">(.*?)</section>', page.text, re.S)
        assert shown and "100,000 rpm · 50 in flight" in shown.group(1) and "tpm" not in shown.group(1)

        made = c.post(
            "/console/keys", data=form(page, name="rated", rpm_limit="60", tpm_limit="5000", max_parallel_requests="")
        )
        assert made.status_code == 201, made.text
        key_id = new_key_id(c.get("/console/keys"))
        path = f"/api/v1/keys/{key_id}"
        assert rates(server, boss, path) == {"rpm_limit": 60, "tpm_limit": 5000, "max_parallel_requests": None}
        row = re.search(rf'<tr>\s*<td><a href="/console/keys/{key_id}">.*?</tr>', c.get("/console/keys").text, re.S)
        assert row and "60 rpm · 5,000 tpm" in row.group(0)

        detail = c.get(f"/console/keys/{key_id}")
        assert (input_value(detail, "rpm_limit"), input_value(detail, "max_parallel_requests")) == ("60", "")
        edit = {"name": "rated", "rpm_limit": "120", "tpm_limit": "", "max_parallel_requests": "3"}
        saved = c.post(f"/console/keys/{key_id}", data=form(detail, **edit))
        assert saved.status_code == 303 and saved.headers["location"].endswith("?saved=1")
        assert rates(server, boss, path) == {"rpm_limit": 120, "tpm_limit": None, "max_parallel_requests": 3}

        # A bad value: the API's own refusal (and status), the typed values kept, nothing changed.
        with server.client(boss) as m:
            for typed in ("abc", "0", "-5", "1.5", "2147483648", "99999999999"):
                api = m.patch(path, json={"rpm_limit": int(typed) if typed.lstrip("-").isdigit() else typed})
                assert api.status_code == 422
                bad = c.post(
                    f"/console/keys/{key_id}", data=form(detail, **{**edit, "rpm_limit": typed, "tpm_limit": "77"})
                )
                assert bad.status_code == 422, typed
                assert html.escape(api.json()["error"]) in bad.text, typed
                assert (input_value(bad, "rpm_limit"), input_value(bad, "tpm_limit")) == (typed, "77")
        assert rates(server, boss, path) == {"rpm_limit": 120, "tpm_limit": None, "max_parallel_requests": 3}
        huge = c.post(f"/console/keys/{key_id}", data=form(detail, **{**edit, "rpm_limit": "9" * 40}))
        assert huge.status_code == 422 and "rpm_limit must be at most 2147483647" in huge.text
        long = c.post(f"/console/keys/{key_id}", data=form(detail, **{**edit, "tpm_limit": "1" * 41}))
        assert long.status_code == 422 and "tpm_limit must be at most 40 characters" in long.text

        refused = c.post("/console/keys", data=form(page, name="not made", max_parallel_requests="lots"))
        assert refused.status_code == 422 and "max_parallel_requests must be a positive integer" in refused.text
        assert input_value(refused, "max_parallel_requests") == "lots" and input_value(refused, "name") == "not made"
        assert "not made" not in c.get("/console/keys").text

        cleared = c.post(f"/console/keys/{key_id}", data=form(detail, name="rated", **dict.fromkeys(RATES, "")))
        assert cleared.status_code == 303
        assert rates(server, boss, path) == dict.fromkeys(RATES)

        # Without the CSRF token: refused before anything changes.
        forged = c.post(f"/console/keys/{key_id}", data={"name": "rated", "rpm_limit": "1"})
        assert forged.status_code == 403 and "CSRF" in forged.text
        forged = c.post("/console/keys", data={"name": "forged", "rpm_limit": "1", "csrf_token": "0" * 64})
        assert forged.status_code == 403
        assert rates(server, boss, path) == dict.fromkeys(RATES)
        with server.client(boss) as m:
            assert "forged" not in [k["name"] for k in m.get("/api/v1/keys").json()]


def test_a_member_cannot_lift_the_rate_limit_an_admin_set(limited):
    server, boss, member_key = limited
    with console_client(server, MEMBER) as mine:
        page = mine.get("/console/keys")
        assert mine.post("/console/keys", data=form(page, name="member rated", rpm_limit="10")).status_code == 201
        key_id = new_key_id(mine.get("/console/keys"))
        path = f"/api/v1/keys/{key_id}"
        detail = mine.get(f"/console/keys/{key_id}")
        raised = mine.post(f"/console/keys/{key_id}", data=form(detail, name="member rated", rpm_limit="20"))
        assert raised.status_code == 303  # a limit the member set, the member may change

        with console_client(server, ADMIN) as boss_console:
            theirs = boss_console.get(f"/console/keys/{key_id}")  # an admin sees and edits every key
            set_ = boss_console.post(f"/console/keys/{key_id}", data=form(theirs, name="member rated", rpm_limit="5"))
            assert set_.status_code == 303
        assert rates(server, boss, path)["rpm_limit"] == 5

        detail = mine.get(f"/console/keys/{key_id}")
        assert "An admin set these limits" in detail.text
        unchanged = mine.post(f"/console/keys/{key_id}", data=form(detail, name="member rated", rpm_limit="5"))
        assert unchanged.status_code == 303  # resubmitting the admin's values changes nothing
        with server.client(member_key) as api:
            api_refusal = api.patch(path, json={"rpm_limit": None})
        assert api_refusal.status_code == 403 and api_refusal.json()["error"] == LIFTING
        for lifted in ("", "50"):
            refused = mine.post(f"/console/keys/{key_id}", data=form(detail, name="member rated", rpm_limit=lifted))
            assert refused.status_code == 403 and LIFTING in refused.text, lifted
            assert input_value(refused, "rpm_limit") == lifted
        assert rates(server, boss, path)["rpm_limit"] == 5


def test_guardrail_rate_limits_are_set_edited_cleared_and_checked(limited):
    server, boss, _ = limited
    with console_client(server, ADMIN) as c:
        page = c.get("/console/guardrails")
        made = c.post(
            "/console/guardrails", data=form(page, name="slow lane", rpm_limit="30", max_parallel_requests="2")
        )
        assert made.status_code == 303, made.text
        listing = c.get("/console/guardrails")
        gid = re.search(r'href="/console/guardrails/([^"/]+)">slow lane<', listing.text).group(1)
        path = f"/api/v1/guardrails/{gid}"
        assert rates(server, boss, path) == {"rpm_limit": 30, "tpm_limit": None, "max_parallel_requests": 2}
        row = re.search(rf'<tr>\s*<td><a href="/console/guardrails/{gid}">.*?</tr>', listing.text, re.S)
        assert row and "30 rpm · 2 in flight" in row.group(0)

        detail = c.get(f"/console/guardrails/{gid}")
        assert input_value(detail, "rpm_limit") == "30"
        edit = {
            "name": "slow lane",
            "enabled": "on",
            "rpm_limit": "",
            "tpm_limit": "1000",
            "max_parallel_requests": "2",
        }
        assert c.post(f"/console/guardrails/{gid}", data=form(detail, **edit)).status_code == 303
        assert rates(server, boss, path) == {"rpm_limit": None, "tpm_limit": 1000, "max_parallel_requests": 2}

        bad = c.post(f"/console/guardrails/{gid}", data=form(detail, **{**edit, "tpm_limit": "0", "rpm_limit": "7"}))
        assert bad.status_code == 422 and "tpm_limit must be a positive integer (or null for no limit)" in bad.text
        assert (input_value(bad, "tpm_limit"), input_value(bad, "rpm_limit")) == ("0", "7")
        refused = c.post("/console/guardrails", data=form(page, name="never", rpm_limit="2147483648"))
        assert refused.status_code == 422 and "rpm_limit must be at most 2147483647" in refused.text
        assert input_value(refused, "rpm_limit") == "2147483648"

        cleared = c.post(f"/console/guardrails/{gid}", data=form(detail, name="slow lane", enabled="on"))
        assert cleared.status_code == 303  # the rate fields left out of the form: blank, no limit
        assert rates(server, boss, path) == dict.fromkeys(RATES)
        forged = c.post(f"/console/guardrails/{gid}", data={"name": "slow lane", "rpm_limit": "1"})
        assert forged.status_code == 403 and rates(server, boss, path) == dict.fromkeys(RATES)
