"""Callbacks that receivers' libraries verify, and the delivery rules around them, over HTTP with a local
receiver: the Standard Webhooks headers checked by the `standardwebhooks` library, no retry after 410 Gone,
a receiver's Retry-After setting the next due time (read from the database, not waited for), and the account's
callback URL allow-list (its endpoint, who may change it, a create refused)."""

import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import standardwebhooks
from sqlalchemy import select

from runapi.auth import admin, passwords
from runapi.callbacks import retry
from runapi.store.schema import callback_attempts, callback_deliveries
from tests.support.cli import cli
from tests.support.servers import new_account, wait_done, wait_for

T2I = "/api/v1/nano_banana/text_to_image"
ALLOWLIST = "/api/v1/me/callback_url_allowlist"


def delivery(server, task_id):
    """The task's final delivery row and its attempts (oldest first), or (None, []) before it is queued."""

    async def go(db):
        async with db.read() as conn:
            d = (
                (await conn.execute(select(callback_deliveries).where(callback_deliveries.c.task_id == task_id)))
                .mappings()
                .first()
            )
            if d is None:
                return None, []
            rows = await conn.execute(
                select(callback_attempts)
                .where(callback_attempts.c.delivery_id == d["id"])
                .order_by(callback_attempts.c.id)
            )
            return dict(d), [dict(a) for a in rows.mappings().all()]

    return server.db_call(go)


def test_a_delivered_callback_verifies_with_the_standardwebhooks_library(server, recorder):
    receiver = recorder()
    account, key = new_account(server)
    secret = server.db_call(lambda db: admin.callback_secret(db, account))
    with server.client(key) as api:
        task_id = api.post(T2I, json={"model": "nano-banana", "prompt": "a cat", "callback_url": receiver.url}).json()[
            "id"
        ]
        status = wait_done(api, T2I, task_id)
    wait_for(lambda: receiver.requests)
    req = receiver.requests[0]
    wh = standardwebhooks.Webhook("whsec_" + secret)  # the documented form of the secret
    assert wh.verify(req["body"], req["headers"]) == status
    assert req["headers"]["webhook-id"] == req["headers"]["X-Callback-Id"] == delivery(server, task_id)[0]["id"]
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        wh.verify(req["body"].replace(b"completed", b"failed"), req["headers"])
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        wh.verify(req["body"] + b" ", req["headers"])


def test_410_gone_stops_the_retries_after_one_attempt(server, api, recorder):
    receiver = recorder(lambda m, p, h, b: (410, {}, b"gone"))
    task_id = api.post(T2I, json={"model": "nano-banana", "prompt": "x", "callback_url": receiver.url}).json()["id"]
    wait_for(lambda: (delivery(server, task_id)[0] or {}).get("state") == "failed")
    d, attempts = delivery(server, task_id)
    assert d["attempts"] == 1 and d["last_status"] == 410 and d["last_error"] == retry.GONE_ERROR
    listed = api.get(f"/api/v1/tasks/{task_id}/callbacks").json()["data"][0]  # as the owner sees it
    assert listed["state"] == "failed" and listed["last_error"] == retry.GONE_ERROR
    assert [(a["attempt"], a["status_code"], a["error"]) for a in listed["attempts"]] == [(1, 410, retry.GONE_ERROR)]
    time.sleep(0.3)  # the schedule here is 0.05 s: a retry would have come
    assert len(receiver.requests) == 1 and len(delivery(server, task_id)[1]) == 1


def test_retry_after_sets_the_next_due_time(server, api, recorder):
    receiver = recorder(lambda m, p, h, b: (503, {"Retry-After": "120"}, b"busy"))
    task_id = api.post(T2I, json={"model": "nano-banana", "prompt": "x", "callback_url": receiver.url}).json()["id"]
    wait_for(lambda: any(a["status_code"] == 503 for a in delivery(server, task_id)[1]))
    d, attempts = delivery(server, task_id)
    assert d["state"] == "pending" and d["attempts"] == 1 and len(attempts) == 1
    # the schedule here is 0.05 s ± jitter: the receiver's 120 s wins
    assert 120 <= d["next_attempt_at"] - attempts[0]["started_at"] <= 130
    assert attempts[0]["error"] == "HTTP 503, Retry-After 120 s"
    assert len(receiver.requests) == 1


def test_the_allowlist_refuses_other_callback_urls_and_only_admins_change_it(server, recorder):
    receiver = recorder()
    account, key = new_account(server)
    manager = server.db_call(lambda db: admin.mint_key(db, account, "management")).token
    with server.client(key) as api, server.client(manager) as mgmt:
        assert api.get(ALLOWLIST).json() == {"callback_url_allowlist": []}
        allowed_prefix = f"{receiver.url}/hooks/"
        resp = mgmt.put(ALLOWLIST, json={"callback_url_allowlist": [allowed_prefix, " ", "hooks.example.com"]})
        assert resp.status_code == 200, resp.text
        assert resp.json() == {"callback_url_allowlist": [allowed_prefix, "hooks.example.com"]}
        assert api.get(ALLOWLIST).json() == resp.json()  # every key of the account reads it

        refused = api.post(T2I, json={"model": "nano-banana", "prompt": "x", "callback_url": f"{receiver.url}/other"})
        assert refused.status_code == 422
        message = refused.json()["error"]
        assert "is not on this account's callback URL allow-list" in message and allowed_prefix in message
        ok = api.post(T2I, json={"model": "nano-banana", "prompt": "x", "callback_url": f"{receiver.url}/hooks/1"})
        assert ok.status_code == 202, ok.text
        wait_for(lambda: any(r["path"] == "/hooks/1" for r in receiver.requests))
        assert api.post(T2I, json={"model": "nano-banana", "prompt": "no callback"}).status_code == 202

        # members and API keys cannot change it; bad lists are refused with the reason
        member = mgmt.post("/api/v1/members", json={"email": f"m{time.time_ns()}@example.com"}).json()
        with server.client(member["management_key"]["key"]) as them:
            resp = them.put(ALLOWLIST, json={"callback_url_allowlist": []})
            assert resp.status_code == 403
            assert resp.json()["error"] == "Only an account admin can change the callback URL allow-list"
        assert api.put(ALLOWLIST, json={"callback_url_allowlist": []}).status_code == 403
        for body, status, says in (
            ({}, 400, "Missing required parameter: callback_url_allowlist"),
            ({"callback_url_allowlist": "a.example"}, 422, "expected an array of strings"),
            ({"callback_url_allowlist": [1]}, 422, "expected an array of strings"),
            ({"callback_url_allowlist": ["ftp://a.example/"]}, 422, "callback_url_allowlist[0]"),
            ({"callback_url_allowlist": ["h.example"] * 101}, 422, "at most 50 entries"),
        ):
            resp = mgmt.put(ALLOWLIST, json=body)
            assert resp.status_code == status and says in resp.json()["error"], resp.text
        assert api.get(ALLOWLIST).json()["callback_url_allowlist"] == [allowed_prefix, "hooks.example.com"]

        # cleared: any URL again
        assert mgmt.put(ALLOWLIST, json={"callback_url_allowlist": []}).json() == {"callback_url_allowlist": []}
        again = api.post(T2I, json={"model": "nano-banana", "prompt": "x", "callback_url": f"{receiver.url}/other"})
        assert again.status_code == 202, again.text


def test_another_accounts_allowlist_does_not_apply(server, api, recorder):
    receiver = recorder()
    account, _ = new_account(server)
    manager = server.db_call(lambda db: admin.mint_key(db, account, "management")).token
    with server.client(manager) as mgmt:
        assert mgmt.put(ALLOWLIST, json={"callback_url_allowlist": ["hooks.example.com"]}).status_code == 200
    resp = api.post(T2I, json={"model": "nano-banana", "prompt": "x", "callback_url": receiver.url})
    assert resp.status_code == 202, resp.text


def test_admin_callback_allowlist_command(tmp_path):
    env = {"RUNAPI_DATA_DIR": str(tmp_path)}
    made = cli("admin", "--create", "create-account", "--name", "Acme", "--email", "ops@acme.test", env=env)
    assert made.returncode == 0, made.stderr
    show = ("admin", "callback-allowlist", "--account", "1")
    assert json.loads(cli(*show, env=env).stdout) == {"account_id": 1, "callback_url_allowlist": []}
    out = cli(*show, "--set", "hooks.acme.test", "--set", "https://cb.acme.test/runapi/", env=env)
    listed = ["hooks.acme.test", "https://cb.acme.test/runapi/"]
    assert json.loads(out.stdout) == {"account_id": 1, "callback_url_allowlist": listed}
    assert json.loads(cli(*show, env=env).stdout)["callback_url_allowlist"] == listed
    bad = cli(*show, "--set", "ftp://x.test/", env=env)
    assert bad.returncode != 0 and "callback_url_allowlist[0]" in bad.stderr
    missing = cli("admin", "callback-allowlist", "--account", "9", env=env)
    assert missing.returncode != 0 and "account 9 not found" in missing.stderr
    assert json.loads(cli(*show, "--clear", env=env).stdout)["callback_url_allowlist"] == []


@contextmanager
def console_client(server, email: str) -> Iterator[httpx.Client]:
    """An httpx client signed in to the console as `email` (a password is set for them first)."""
    password = "a long enough password"
    server.db_call(lambda db: passwords.set_password(db, email, password))
    with httpx.Client(base_url=server.url, timeout=30) as c:
        token = page_csrf(c.get("/console/sign-in").text)
        signed = c.post("/console/sign-in", data={"email": email, "password": password, "csrf_token": token})
        assert signed.status_code in (302, 303), signed.text
        yield c


def page_csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_the_console_shows_the_standard_secret_and_admins_edit_the_allowlist(server):
    email = f"admin{time.time_ns()}@example.com"
    account, key = new_account(server, email=email)
    secret = server.db_call(lambda db: admin.callback_secret(db, account))
    with console_client(server, email) as c:
        page = c.get("/console/callback-secret")
        assert page.status_code == 200 and f"whsec_{secret}" in page.text
        saved = c.post(
            "/console/callback-secret/allowlist",
            data={
                "entries": "hooks.example.com\r\nhttps://cb.example.com/runapi/\r\n",
                "csrf_token": page_csrf(page.text),
            },
        )
        assert saved.status_code in (302, 303), saved.text
        with server.client(key) as api:
            listed = ["hooks.example.com", "https://cb.example.com/runapi/"]
            assert api.get(ALLOWLIST).json()["callback_url_allowlist"] == listed
        bad = c.post(
            "/console/callback-secret/allowlist",
            data={"entries": "ftp://x.example/", "csrf_token": page_csrf(page.text)},
        )
        assert bad.status_code == 422 and "callback_url_allowlist[0]" in bad.text
        assert "ftp://x.example/" in bad.text  # what was typed stays in the form
        with server.client(key) as api:
            assert api.get(ALLOWLIST).json()["callback_url_allowlist"] == listed

        manager = server.db_call(lambda db: admin.mint_key(db, account, "management")).token
        member_email = f"member{time.time_ns()}@example.com"
        with server.client(manager) as mgmt:
            assert mgmt.post("/api/v1/members", json={"email": member_email}).status_code == 201
    with console_client(server, member_email) as m:
        page = m.get("/console/callback-secret")
        assert "hooks.example.com" in page.text and "Only an account admin can change the allow-list" in page.text
        refused = m.post("/console/callback-secret/allowlist", data={"entries": "", "csrf_token": page_csrf(page.text)})
        assert refused.status_code == 403
    with server.client(key) as api:
        assert api.get(ALLOWLIST).json()["callback_url_allowlist"] == listed
