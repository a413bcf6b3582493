#!/usr/bin/env python3
"""Screenshots of every web console page, to look at them without running anything by hand.

    python scripts/console_screenshots.py OUTDIR        (PYTHONPATH=src in a checkout without `pip install -e .`)

Starts a server on a fresh temporary data directory (the sandbox answers every model), gives the first-start
admin a password and the operator flag, signs in with Chromium (Playwright for Python driving the Debian
`chromium` package: RUNAPI_CHROMIUM overrides /usr/bin/chromium), creates a key and a guardrail, runs an image
in the playground and a chat message, and saves one full-page PNG per page into OUTDIR. Needs the test extras
(`pip install -e '.[test]'`) and chromium (`apt-get install chromium`); nothing is downloaded."""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import uvicorn

from runapi.api.http_server import uvicorn_options
from runapi.app import create_app
from runapi.auth.passwords import set_password
from runapi.settings import Settings
from runapi.store import Database

EMAIL = "admin@localhost"
PASSWORD = "screenshots-password"
VIEWPORT = {"width": 1360, "height": 900}


def chromium_path() -> str:
    path = os.environ.get("RUNAPI_CHROMIUM", "/usr/bin/chromium")
    if not Path(path).exists():
        sys.exit(f"no Chromium at {path}: apt-get install chromium, or set RUNAPI_CHROMIUM")
    return path


def start(data_dir: Path) -> tuple[str, uvicorn.Server, threading.Thread]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Settings(
        data_dir=data_dir,
        host="127.0.0.1",
        port=port,
        access_log=False,
        worker_idle_poll_seconds=0.05,
        bootstrap_api_key="rk-screenshots-" + "k" * 32,
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
            **uvicorn_options(settings),
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started:
        if time.time() > deadline or not thread.is_alive():
            sys.exit("the server did not start")
        time.sleep(0.05)

    async def operator() -> None:
        db = Database(settings.resolved_database_url, "NORMAL")
        try:
            await set_password(db, EMAIL, PASSWORD, operator=True)
        finally:
            await db.dispose()

    asyncio.run(operator())
    return f"http://127.0.0.1:{port}", server, thread


def shoot(out: Path, base: str) -> list[Path]:
    from playwright.sync_api import expect, sync_playwright

    saved: list[Path] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path())
        page = browser.new_page(viewport=VIEWPORT)

        def save(name: str) -> None:
            path = out / f"{len(saved) + 1:02d}-{name}.png"
            page.screenshot(path=str(path), full_page=True)
            saved.append(path)

        page.goto(f"{base}/console/sign-in")
        save("sign-in")
        page.get_by_label("Email").fill(EMAIL)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/console/overview")
        save("overview")

        page.goto(f"{base}/console/keys")
        page.get_by_label("Name", exact=True).fill("production")
        page.get_by_label("Credit limit").fill("5000")
        page.get_by_role("button", name="Create key").click()
        expect(page.get_by_test_id("new-key-token")).to_be_visible()
        save("keys-created")
        page.get_by_role("link", name="production").click()
        save("key-detail")

        page.goto(f"{base}/console/guardrails")
        page.get_by_label("Name").fill("Video budget")
        page.get_by_label("Credit limit").fill("2000")
        page.get_by_role("button", name="Create guardrail").click()
        save("guardrails")

        page.goto(f"{base}/console/callback-secret")
        save("callback-secret")

        page.goto(f"{base}/console/playground")
        page.get_by_label("Family").select_option("nano_banana")
        expect(page.get_by_label("Model")).to_have_value("nano-banana")
        page.get_by_label("Prompt").fill("a lighthouse on a cliff at dawn, watercolour")
        page.get_by_role("button", name="Run").click()
        expect(page.get_by_test_id("task-status")).to_have_text("completed", timeout=60_000)
        page.locator(".preview img").first.wait_for()
        save("playground")

        page.goto(f"{base}/console/chat")
        page.get_by_label("Message").fill("Say hello in three languages.")
        page.get_by_role("button", name="Send").click()
        expect(page.locator(".turn-assistant")).to_have_count(1, timeout=30_000)
        save("chat")

        page.goto(f"{base}/console/usage")
        save("usage")

        page.goto(f"{base}/console/overview")  # again, now that the image and the chat have been billed
        expect(page.get_by_test_id("spend-chart")).to_be_visible()
        save("overview-spend")

        page.goto(f"{base}/console/tasks")
        save("tasks")
        page.get_by_test_id("tasks-table").get_by_role("link").first.click()
        expect(page.get_by_test_id("task-status")).to_have_text("completed")
        page.locator(".preview img").first.wait_for()
        save("task-detail")

        page.goto(f"{base}/console/operator")
        save("operator")
        browser.close()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", type=Path)
    args = parser.parse_args()
    args.outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="runapi-screens-") as tmp:
        base, server, thread = start(Path(tmp))
        try:
            for path in shoot(args.outdir, base):
                print(path)
        finally:
            server.should_exit = True
            thread.join(timeout=20)


if __name__ == "__main__":
    main()
