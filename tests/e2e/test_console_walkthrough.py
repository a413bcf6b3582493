"""Issue 14's done-when, in a real browser on the embedded default: a new user signs in, runs an image and a
video from the playground, sees them in the task list with their cost and callback attempts, cancels a slow
task and gets refunded, and finds each request in the usage log. One server whose sandbox takes a few seconds
per task, so the third task is still processing when it is cancelled."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from runapi.auth import admin, passwords
from tests.e2e.test_console_browser import TIMEOUT_MS, Console, browser, nav, pick, sign_in  # noqa: F401
from tests.support.servers import start_server, wait_for

NEWCOMER, NEWCOMER_PASSWORD = "newcomer@example.test", "newcomer-password-1"
SANDBOX_SECONDS = 15  # long enough to cancel in under CI load, short enough to wait for twice
DONE_MS = 90_000  # a finished task under CI load: the sandbox's seconds plus making a real video


@pytest.fixture(scope="module")
def walkthrough_console(tmp_path_factory) -> Iterator[Console]:
    srv = start_server(tmp_path_factory.mktemp("walkthrough"), sandbox_delay_seconds=SANDBOX_SECONDS)

    async def newcomer(db) -> None:  # `runapi admin add-member` then `runapi admin set-password`
        await admin.add_member(db, 1, NEWCOMER, "New Comer", "member")
        await passwords.set_password(db, NEWCOMER, NEWCOMER_PASSWORD)

    found = Console(srv)
    found.db_call(newcomer)
    yield found
    srv.stop()


def run_in_playground(page, family: str, action: str, model: str, prompt: str, callback_url: str) -> str:
    """Fill the generated form, run it, and return the new task's id (from the result's link)."""
    from playwright.sync_api import expect

    nav(page, "Playground")
    pick(page, "Family", family)
    pick(page, "Action", action)
    pick(page, "Model", model)
    page.get_by_label("Prompt").fill(prompt)
    page.get_by_label(re.compile("^Callback")).fill(callback_url)
    page.get_by_role("button", name="Run").click()
    link = page.get_by_role("link", name="Task details")
    expect(link).to_be_visible()
    href = link.get_attribute("href") or ""
    return href.rsplit("/", 1)[-1]


def test_a_new_user_runs_sees_cancels_and_finds_everything(browser, walkthrough_console, recorder):  # noqa: F811
    from playwright.sync_api import expect

    receiver = recorder()
    hook = f"{receiver.url}/hook"
    context = browser.new_context(base_url=walkthrough_console.url)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        sign_in(page, NEWCOMER, NEWCOMER_PASSWORD)
        balance_before = page.get_by_test_id("balance").inner_text()

        image = run_in_playground(page, "nano_banana", "text_to_image", "nano-banana", "a red kite over dunes", hook)
        expect(page.get_by_test_id("task-status")).to_have_text("completed", timeout=DONE_MS)
        expect(page.locator(".preview img").first).to_be_visible()

        video = run_in_playground(page, "veo_3_1", "text_to_video", "veo-3.1-fast", "waves at night", hook)
        expect(page.get_by_test_id("task-status")).to_have_text("completed", timeout=DONE_MS)
        player = page.locator(".preview video").first
        expect(player).to_be_visible()
        page.wait_for_function("v => v.readyState >= 1 && v.duration > 0", arg=player.element_handle())

        slow = run_in_playground(page, "nano_banana", "text_to_image", "nano-banana", "never finished", hook)
        expect(page.get_by_test_id("task-status")).to_have_text("processing")
        page.goto(f"/console/tasks/{slow}")
        page.get_by_role("button", name="Cancel task").click()
        expect(page.get_by_test_id("task-status")).to_have_text("failed")
        expect(page.get_by_test_id("task-cost")).to_have_text("$0.00 (refunded)")

        # the task list: all three, the finished two with their cost, and each with its callback attempts
        nav(page, "Tasks")
        table = page.get_by_test_id("tasks-table")
        for task_id, cost in ((image, "charged"), (video, "charged"), (slow, "$0.00 refunded")):
            expect(table.locator(f'tr[data-task-id="{task_id}"]')).to_contain_text(cost)
        wait_for(lambda: len(receiver.requests) >= 3, timeout=60)  # one final callback per task
        for task_id in (image, video, slow):
            page.goto(f"/console/tasks/{task_id}")
            attempts = page.get_by_test_id("callback-attempts").locator("tbody tr")
            expect(attempts).to_have_count(1)
            expect(attempts.first.locator("td").nth(2)).to_have_text("200")

        # refunded: what is held now is the two finished tasks' price, no more
        nav(page, "Overview")
        expect(page.get_by_test_id("balance")).not_to_have_text(balance_before)
        with walkthrough_console.server.client() as api:
            listed = {t["id"]: t for t in api.get("/api/v1/tasks", params={"limit": 100}).json()["data"]}
        charged = listed[image]["cost_cents"] + listed[video]["cost_cents"]
        assert listed[slow]["cost_cents"] == 0 and charged > 0
        before = float(balance_before.strip("$").replace(",", ""))
        after = float(page.get_by_test_id("balance").inner_text().strip("$").replace(",", ""))
        assert round((before - after) * 100) == charged

        # the usage log: one row per request, each leading to its task
        nav(page, "Usage")
        for task_id in (image, video, slow):
            expect(page.get_by_role("link", name=f"task {task_id}")).to_have_count(1)
    finally:
        context.close()
