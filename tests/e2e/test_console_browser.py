"""The web console in a real browser: Chromium (the Debian package, /usr/bin/chromium, or RUNAPI_CHROMIUM)
driven by Playwright for Python against a real server. Never `playwright install`: the browser is the
system's. Without Chromium or Playwright these tests skip, except in CI (RUNAPI_CI=1), where they fail.

Sign-in with a password and with a one-time link, a key created and its token shown once, a playground image
run and shown, a chat answer, CSRF refusals, the operator view closed to members, the keyboard path to the
sign-in button, sign-out revoking the session, the usage log, and the Tasks pages (list and filters, a task's
previews, parameters and callback attempts with replay, cancel, and a member kept out of an admin's task), and
a key's rpm limit set in its form and shown in the list."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from runapi.auth import admin, console_sessions, passwords
from runapi.console.templating import cents
from tests.support.servers import Server, start_server, wait_done, wait_for

CHROMIUM = Path(os.environ.get("RUNAPI_CHROMIUM", "/usr/bin/chromium"))
IN_CI = os.environ.get("RUNAPI_CI") == "1"
ADMIN, ADMIN_PASSWORD = "admin@localhost", "admin-password-1"
MEMBER, MEMBER_PASSWORD = "member@example.test", "member-password-1"
TIMEOUT_MS = 30_000
T2I = "/api/v1/nano_banana/text_to_image"
EDIT = "/api/v1/nano_banana/edit_image"


def unavailable(reason: str) -> None:
    """Skip locally; fail in CI, where the browser must be there (scripts/ci-services.sh install)."""
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        unavailable(f"Chromium not found at {CHROMIUM} (apt-get install chromium; scripts/ci-services.sh install)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright for Python is not installed (pip install -e '.[test]')")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM))
        yield launched
        launched.close()


@dataclass
class Console:
    server: Server

    @property
    def url(self) -> str:
        return self.server.url

    def db_call(self, fn: Any) -> Any:
        """`server.db_call` on a thread of its own: Playwright's sync API keeps an event loop on this one."""
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(self.server.db_call, fn).result()


async def people(db) -> None:
    """The bootstrap account's admin (also the operator) and a member, both with passwords."""
    await passwords.set_password(db, ADMIN, ADMIN_PASSWORD, operator=True)
    await admin.add_member(db, 1, MEMBER, "Mem", "member")
    await passwords.set_password(db, MEMBER, MEMBER_PASSWORD)


@pytest.fixture(scope="module")
def console(tmp_path_factory) -> Iterator[Console]:
    srv = start_server(tmp_path_factory.mktemp("console"))
    found = Console(srv)
    found.db_call(people)
    yield found
    srv.stop()


@pytest.fixture(scope="module")
def slow_console(tmp_path_factory) -> Iterator[Console]:
    """A second server whose sandbox takes 30 s per task: its tasks stay processing while a test looks."""
    srv = start_server(tmp_path_factory.mktemp("slow-console"), sandbox_delay_seconds=30)
    found = Console(srv)
    found.db_call(people)
    yield found
    srv.stop()


@pytest.fixture
def page(browser, console) -> Iterator[Any]:
    context = browser.new_context(base_url=console.url)
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    yield tab
    context.close()


def sign_in(page, email: str, password: str) -> None:
    page.goto("/console/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/overview")


def nav(page, section: str) -> None:
    page.get_by_role("navigation", name="Console sections").get_by_role("link", name=section, exact=True).click()


def test_sign_in_with_a_password(page):
    from playwright.sync_api import expect

    page.goto("/console/keys")
    expect(page).to_have_url(re.compile(r"/console/sign-in\?next=/console/keys$"))  # signed out: to sign-in
    page.get_by_label("Email").fill(ADMIN)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Email or password is incorrect.")

    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/console/keys$"))  # back where it was going
    nav(page, "Overview")
    expect(page.get_by_test_id("balance")).to_have_text("$1,000.00")  # the test server's 100,000 cents
    cookie = next(c for c in page.context.cookies() if c["name"] == "runapi_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/console"
    assert not cookie["secure"]  # plain http to 127.0.0.1: the one place without Secure


def test_sign_in_with_a_one_time_link(page, console):
    from playwright.sync_api import expect

    async def link(db):
        user = await passwords.user_by_email(db, MEMBER)
        return await console_sessions.create_login_link(db, user.id)

    url = f"/console/sign-in/link?token={console.db_call(link)}"
    page.goto(url)
    page.get_by_role("button", name=f"Sign in as {MEMBER}").click()
    page.wait_for_url("**/console/overview")
    expect(page.locator(".who")).to_have_text(MEMBER)

    page.context.clear_cookies()
    page.goto(url)  # used once: never again
    expect(page.get_by_role("alert")).to_contain_text("invalid, used or expired")


def test_a_new_keys_token_is_shown_once_and_works(page, console):
    from playwright.sync_api import expect

    sign_in(page, ADMIN, ADMIN_PASSWORD)
    nav(page, "API keys")
    page.get_by_label("Name", exact=True).fill("from the browser")
    page.get_by_label("Credit limit").fill("2500")
    page.get_by_role("button", name="Create key").click()
    token = page.get_by_test_id("new-key-token").inner_text().strip()
    assert token.startswith("rk-")
    with console.server.client(token) as api:
        assert api.get("/api/v1/me/balance").status_code == 200

    page.reload()  # the page after: the key is listed, masked, and its token is gone
    row = page.get_by_role("row").filter(has_text="from the browser")
    expect(row).to_contain_text("$25.00 daily")
    assert token not in page.content()

    row.get_by_role("button", name="Disable").click()  # and switched off: the API refuses it
    expect(page.get_by_role("row").filter(has_text="from the browser")).to_contain_text("Disabled")
    with console.server.client(token) as api:
        assert api.get("/api/v1/me/balance").status_code == 401

    page.get_by_role("link", name="from the browser").click()
    page.get_by_text("Delete this key").click()  # behind a disclosure: no accidental click
    page.get_by_role("button", name="Delete key").click()
    expect(page).to_have_url(re.compile(r"/console/keys$"))
    expect(page.get_by_role("row").filter(has_text="from the browser")).to_have_count(0)


def test_a_member_cannot_lift_the_limit_an_admin_set(browser, console):
    from playwright.sync_api import expect

    member = browser.new_context(base_url=console.url)
    admin_ = browser.new_context(base_url=console.url)
    try:
        mine = member.new_page()
        sign_in(mine, MEMBER, MEMBER_PASSWORD)
        mine.goto("/console/keys")
        mine.get_by_label("Name", exact=True).fill("member key")
        mine.get_by_role("button", name="Create key").click()
        expect(mine.get_by_test_id("new-key-token")).to_be_visible()

        boss = admin_.new_page()
        sign_in(boss, ADMIN, ADMIN_PASSWORD)
        boss.goto("/console/keys")
        boss.get_by_role("link", name="member key").click()  # admins see every key of the account
        boss.get_by_label("Credit limit").fill("100")
        boss.get_by_role("button", name="Save").click()
        expect(boss.get_by_role("status")).to_have_text("Saved.")

        mine.get_by_role("link", name="member key").click()
        expect(mine.get_by_text("An admin set these limits")).to_be_visible()
        mine.get_by_label("Credit limit").fill("")
        mine.get_by_role("button", name="Save").click()
        expect(mine.get_by_role("alert")).to_contain_text("Only an account admin can change the limits")
        mine.get_by_role("link", name="← API keys").click()
        expect(mine.get_by_role("row").filter(has_text="member key")).to_contain_text("$1.00 daily")
    finally:
        member.close()
        admin_.close()


def test_a_keys_rpm_limit_is_set_in_its_form_and_listed(page, console):
    from playwright.sync_api import expect

    sign_in(page, ADMIN, ADMIN_PASSWORD)
    nav(page, "API keys")
    page.get_by_label("Name", exact=True).fill("rate limited")
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_test_id("new-key-token")).to_be_visible()

    page.get_by_role("link", name="rate limited").click()
    page.get_by_label("Requests per minute").fill("60")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    expect(page.get_by_label("Requests per minute")).to_have_value("60")
    page.get_by_role("link", name="← API keys").click()
    expect(page.get_by_role("row").filter(has_text="rate limited")).to_contain_text("60 rpm")
    manager = console.db_call(lambda db: admin.mint_key(db, 1, "management")).token
    with console.server.client(manager) as api:  # the API's own field, in force
        listed = {k["name"]: k for k in api.get("/api/v1/keys").json()}
    assert listed["rate limited"]["rpm_limit"] == 60


def pick(page, label: str, value: str) -> None:
    """Choose in one of the playground's pickers and wait for the form it re-renders (an htmx swap): choosing
    the next one before the swap lands would choose in a form about to be replaced."""
    from playwright.sync_api import expect

    with page.expect_response(lambda r: "/console/playground/form" in r.url):
        page.get_by_label(label).select_option(value)
    expect(page.get_by_label(label)).to_have_value(value)
    expect(page.locator(".htmx-request, .htmx-settling, .htmx-swapping")).to_have_count(0)


def test_the_playground_runs_an_image_and_shows_it(page):
    from playwright.sync_api import expect

    sign_in(page, ADMIN, ADMIN_PASSWORD)
    nav(page, "Playground")
    pick(page, "Family", "nano_banana")
    pick(page, "Action", "text_to_image")
    pick(page, "Model", "nano-banana-pro")
    expect(page.get_by_label("Output resolution")).to_be_visible()  # the form follows the model
    page.get_by_label("Prompt").fill("a lighthouse at dawn")
    page.get_by_role("button", name="Run").click()
    expect(page.get_by_test_id("task-status")).to_have_text("completed")
    image = page.locator(".preview img").first
    expect(image).to_be_visible()
    image.wait_for(state="visible")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    expect(page.locator(".task")).to_contain_text("$0.12")  # nano-banana-pro's price, charged


def test_a_file_chosen_in_the_playground_is_uploaded_and_used(page, tmp_path):
    from PIL import Image
    from playwright.sync_api import expect

    source = tmp_path / "source.png"
    Image.new("RGB", (64, 48), (200, 30, 30)).save(source)
    sign_in(page, ADMIN, ADMIN_PASSWORD)
    nav(page, "Playground")
    pick(page, "Family", "nano_banana")
    pick(page, "Action", "edit_image")
    page.get_by_label("Prompt").fill("make it blue")
    page.get_by_label("or upload files").set_input_files(str(source))
    page.get_by_role("button", name="Run").click()
    expect(page.get_by_test_id("task-status")).to_have_text("completed")
    request = page.get_by_test_id("task-request").text_content() or ""
    assert "/files/uploads/1/" in request and "source.png" in request  # the upload's signed URL, in the request
    expect(page.locator(".preview img").first).to_be_visible()


def test_the_chat_playground_answers(page):
    from playwright.sync_api import expect

    sign_in(page, ADMIN, ADMIN_PASSWORD)
    nav(page, "Chat")
    page.get_by_label("Message").fill("Hello there")
    page.get_by_role("button", name="Send").click()
    answer = page.locator(".turn-assistant .turn-text")
    expect(answer).to_have_count(1)
    assert "Hello there" in answer.inner_text()  # the sandbox model answers about the message
    expect(page.get_by_role("status")).to_contain_text("output tokens, billed to the key")
    page.get_by_label("Message").fill("And again")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".turn")).to_have_count(4)  # the conversation carries on


def test_a_post_without_the_csrf_token_is_refused(page, console):
    sign_in(page, ADMIN, ADMIN_PASSWORD)
    before = len(console.server.client().get("/api/v1/me").json())
    for data in ({"name": "forged"}, {"name": "forged", "csrf_token": "0" * 64}):
        answer = page.request.post("/console/keys", form=data, max_redirects=0)  # with the session cookie
        assert answer.status == 403 and "CSRF" in answer.text()
    answer = page.request.post("/console/callback-secret/rotate", headers={"X-CSRF-Token": "nope"})
    assert answer.status == 403
    assert "forged" not in page.goto("/console/keys").text()
    assert len(console.server.client().get("/api/v1/me").json()) == before
    huge = httpx.post(
        f"{console.url}/console/sign-in",
        content=b"email=" + b"x" * (2 << 20),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert huge.status_code == 413  # refused before the body is read


def test_a_member_cannot_reach_the_operator_view(page):
    from playwright.sync_api import expect

    sign_in(page, MEMBER, MEMBER_PASSWORD)
    expect(page.get_by_role("navigation", name="Console sections")).not_to_contain_text("Operator")
    answer = page.goto("/console/operator")
    assert answer is not None and answer.status == 403
    expect(page.get_by_role("alert")).to_contain_text("Only the instance operator")
    page.goto("/console/callback-secret")  # members read the secret but cannot rotate it
    expect(page.get_by_test_id("callback-secret")).to_be_visible()
    expect(page.get_by_role("button", name="Rotate secret")).to_have_count(0)


def test_the_keyboard_reaches_the_sign_in_button(page):
    from playwright.sync_api import expect

    page.goto("/console/sign-in")
    # The email field takes the focus on arrival; browsers apply autofocus at a later rendering step than the load
    # event, so wait for it rather than type into nothing (a CI run under load lost the email that way).
    expect(page.get_by_label("Email")).to_be_focused()
    page.keyboard.type(ADMIN)
    focused = None
    for _ in range(6):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => [document.activeElement.tagName, document.activeElement.textContent.trim(),"
            " document.activeElement.name, getComputedStyle(document.activeElement).outlineStyle]"
        )
        if focused[2] == "password":
            page.keyboard.type(ADMIN_PASSWORD)
        if focused[0] == "BUTTON":
            break
    assert focused is not None and focused[:2] == ["BUTTON", "Sign in"]
    assert focused[3] != "none"  # a visible focus ring
    expect(page.get_by_label("Email")).to_have_value(ADMIN)
    expect(page.get_by_label("Password")).to_have_value(ADMIN_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/overview")


def test_signing_out_revokes_the_session(page, console):
    sign_in(page, ADMIN, ADMIN_PASSWORD)
    cookie = next(c for c in page.context.cookies() if c["name"] == "runapi_session")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/console/sign-in")
    stolen = httpx.get(f"{console.url}/console/overview", cookies={"runapi_session": cookie["value"]})
    assert stolen.status_code == 303 and stolen.headers["location"].startswith("/console/sign-in")


def test_usage_lists_billed_requests_filters_them_and_exports_csv(page, console):
    import httpx
    from playwright.sync_api import expect

    with httpx.Client(base_url=console.url, headers={"Authorization": f"Bearer {console.server.key}"}) as api:
        made = api.post("/api/v1/nano_banana/text_to_image", json={"model": "nano-banana", "prompt": "usage row"})
        assert made.status_code == 202, made.text
        wait_done(api, "/api/v1/nano_banana/text_to_image", made.json()["id"])
    sign_in(page, ADMIN, ADMIN_PASSWORD)
    nav(page, "Usage")
    page.get_by_label("Kind").select_option("task")
    page.get_by_role("button", name="Apply").click()
    rows = page.get_by_test_id("usage-table").locator("tbody tr")
    expect(rows.first).to_contain_text("nano-banana")
    assert rows.evaluate_all("rs => rs.every(r => r.dataset.kind === 'task')")
    with page.expect_download() as download:
        page.get_by_test_id("usage-csv").click()
    text = open(download.value.path(), encoding="utf-8").read()
    header, *lines = text.strip().splitlines()
    assert header.startswith("id,created_at,kind,status") and lines
    assert all(",task," in line for line in lines) and any(made.json()["id"] in line for line in lines)


def test_overview_shows_spend_today_a_chart_per_day_and_top_models(page, console):
    import time as clock

    import httpx
    from playwright.sync_api import expect

    from runapi.console.spend import dollars

    with httpx.Client(base_url=console.url, headers={"Authorization": f"Bearer {console.server.key}"}) as api:
        made = api.post("/api/v1/nano_banana/text_to_image", json={"model": "nano-banana", "prompt": "overview"})
        assert made.status_code == 202, made.text
        wait_done(api, "/api/v1/nano_banana/text_to_image", made.json()["id"])
        today = clock.strftime("%Y-%m-%d", clock.gmtime())
        days = api.get("/api/v1/usage/summary", params={"group_by": "day"}).json()["data"]
        spent_today = next(d["cost_micro_cents"] for d in days if d["key"] == today)
    sign_in(page, ADMIN, ADMIN_PASSWORD)
    assert spent_today > 0
    # The API key's own rows are a subset of the account's, which the admin sees: today is at least that.
    shown = page.get_by_test_id("spent-today").inner_text()
    assert float(shown.strip("$").replace(",", "")) >= float(dollars(spent_today).strip("$").replace(",", ""))
    expect(page.get_by_test_id("spent-month")).not_to_have_text("$0.00")
    chart = page.get_by_test_id("spend-chart")
    expect(chart).to_be_visible()
    assert chart.locator("rect.bar").count() == 30
    expect(chart.locator("rect.bar title").last).to_contain_text(today)
    expect(page.get_by_test_id("top-models")).to_contain_text("nano-banana")
    page.get_by_test_id("top-models").get_by_role("link", name="nano-banana", exact=True).click()
    expect(page).to_have_url(re.compile(r"/console/usage\?model=nano-banana$"))


def made_task(console: Console, path: str, body: dict[str, Any]) -> str:
    """A task created through the API with the bootstrap (admin's) key, waited for until it has finished."""
    with console.server.client() as api:
        made = api.post(path, json=body)
        assert made.status_code == 202, made.text
        wait_done(api, path, made.json()["id"])
        return str(made.json()["id"])


def test_tasks_lists_a_task_with_its_cost_and_filters_by_status(page, console, recorder):
    from playwright.sync_api import expect

    done = made_task(console, T2I, {"model": "nano-banana", "prompt": "tasks list row"})
    missing = recorder(lambda m, p, h, b: (404, {"Content-Type": "text/plain"}, b"not found"))
    failed = made_task(
        console,
        EDIT,
        {"model": "nano-banana-edit", "prompt": "fails", "source_image_urls": [f"{missing.url}/gone.png"]},
    )  # the source cannot be fetched: failed, refunded
    with console.server.client() as api:
        listed = {t["id"]: t for t in api.get("/api/v1/tasks", params={"limit": 10}).json()["data"]}
    assert listed[done]["status"] == "completed" and listed[failed]["status"] == "failed"

    sign_in(page, ADMIN, ADMIN_PASSWORD)
    nav(page, "Tasks")
    table = page.get_by_test_id("tasks-table")
    row = table.locator(f'tr[data-task-id="{done}"]')
    expect(row).to_contain_text("nano_banana/text_to_image")
    expect(row).to_contain_text("nano-banana")
    expect(row).to_contain_text(f"{cents(listed[done]['cost_cents'])} charged")  # the console's own formatting
    expect(row.locator(".status")).to_have_text("completed")  # the status in words, not a colour alone
    expect(table.locator(f'tr[data-task-id="{failed}"]')).to_contain_text("$0.00 refunded")

    page.get_by_label("Status").select_option("failed")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"/console/tasks\?.*status=failed"))
    expect(page.get_by_label("Status")).to_have_value("failed")  # the form keeps the filter
    rows = table.locator("tbody tr")
    expect(table.locator(f'tr[data-task-id="{failed}"]')).to_have_count(1)
    expect(table.locator(f'tr[data-task-id="{done}"]')).to_have_count(0)
    assert rows.evaluate_all("rs => rs.length > 0 && rs.every(r => r.dataset.status === 'failed')")

    table.locator(f'tr[data-task-id="{failed}"]').get_by_role("link", name=f"Details of task {failed}").click()
    expect(page).to_have_url(re.compile(f"/console/tasks/{failed}$"))
    expect(page.get_by_test_id("task-error")).to_contain_text("Failed")

    nav(page, "Usage")  # a task's usage row leads to its page
    page.get_by_role("link", name=f"task {done}").click()
    expect(page).to_have_url(re.compile(f"/console/tasks/{done}$"))
    expect(page.get_by_test_id("task-status")).to_have_text("completed")


def test_a_tasks_page_shows_its_image_parameters_and_callbacks_and_replays(page, console, recorder):
    from playwright.sync_api import expect

    receiver = recorder()
    task_id = made_task(
        console,
        T2I,
        {"model": "nano-banana", "prompt": "a harbour <at> night", "callback_url": f"{receiver.url}/hook"},
    )
    sign_in(page, ADMIN, ADMIN_PASSWORD)
    page.goto(f"/console/tasks/{task_id}")
    expect(page.get_by_test_id("task-status")).to_have_text("completed")
    image = page.locator(".preview img").first
    expect(image).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    expect(page.get_by_test_id("task-params")).to_contain_text('"prompt": "a harbour <at> night"')  # as text
    expect(page.get_by_test_id("task-cost")).to_contain_text("(charged)")
    expect(page.get_by_test_id("callback-url")).to_have_text(f"{receiver.url}/hook")

    # the callback may still be on its way when the page loads: the page polls until it is delivered
    attempts = page.get_by_test_id("callback-attempts").locator("tbody tr")
    expect(attempts).to_have_count(1)
    expect(attempts.first.locator("td").nth(2)).to_have_text("200")
    expect(attempts.first.locator("td").nth(3)).to_contain_text("ms")
    assert len(receiver.requests) == 1

    page.get_by_role("button", name="Replay callback").click()
    expect(attempts).to_have_count(2)  # a new round of attempts, swapped in by the page's polling
    expect(attempts.nth(1).locator("td").nth(2)).to_have_text("200")
    expect(page.get_by_role("button", name="Replay callback")).to_be_visible()  # delivered: replayable again
    wait_for(lambda: len(receiver.requests) == 2)
    first, again = receiver.requests
    assert first["headers"]["X-Callback-Id"] == again["headers"]["X-Callback-Id"]  # the same callback, again


def test_a_processing_task_is_cancelled_from_its_page(browser, slow_console):
    from playwright.sync_api import expect

    context = browser.new_context(base_url=slow_console.url)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        sign_in(page, ADMIN, ADMIN_PASSWORD)
        before = page.get_by_test_id("balance").inner_text()
        with slow_console.server.client() as api:
            made = api.post(T2I, json={"model": "nano-banana", "prompt": "slow"})
            assert made.status_code == 202, made.text
            task_id = made.json()["id"]
        page.goto(f"/console/tasks/{task_id}")
        expect(page.get_by_test_id("task-status")).to_have_text("processing")
        expect(page.get_by_test_id("task-cost")).to_contain_text("(reserved)")
        nav(page, "Overview")
        expect(page.get_by_test_id("balance")).not_to_have_text(before)  # the price is held meanwhile

        page.goto(f"/console/tasks/{task_id}")
        page.get_by_role("button", name="Cancel task").click()
        expect(page.get_by_test_id("task-status")).to_have_text("failed")
        expect(page.get_by_test_id("task-error")).to_have_text("Failed: Canceled by the client")
        expect(page.get_by_test_id("task-cost")).to_have_text("$0.00 (refunded)")
        expect(page.get_by_role("button", name="Cancel task")).to_have_count(0)
        nav(page, "Overview")
        expect(page.get_by_test_id("balance")).to_have_text(before)  # all of it back
    finally:
        context.close()


def test_a_member_cannot_open_an_admins_task(page, console):
    from playwright.sync_api import expect

    task_id = made_task(console, T2I, {"model": "nano-banana", "prompt": "the admin's"})
    sign_in(page, MEMBER, MEMBER_PASSWORD)
    nav(page, "Tasks")
    expect(page.get_by_role("heading", level=1)).to_have_text("Tasks")
    expect(page.locator(f'tr[data-task-id="{task_id}"]')).to_have_count(0)  # not in the member's list
    for path in (f"/console/tasks/{task_id}", f"/console/playground/tasks/{task_id}"):
        answer = page.goto(path)
        assert answer is not None and answer.status == 404
        expect(page.get_by_role("alert")).to_contain_text("Task not found")
        assert "the admin's" not in page.content()
    for action in ("cancel", "replay"):  # nor act on it (with a valid CSRF token: the refusal is the scope's)
        token = page.locator("input[name=csrf_token]").first.get_attribute("value")
        answer = page.request.post(f"/console/tasks/{task_id}/{action}", form={"csrf_token": token or ""})
        assert answer.status == 404
