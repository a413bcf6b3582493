"""The usage log on a real database (SQLite, or PostgreSQL when RUNAPI_TEST_DATABASE_URL is set), without a
server: rows written with their ledger moves (LLM settle and refund through the LedgerBatcher, a task's
finish), listing with cursor pagination and filters, who sees what, and the summaries."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from runapi.auth import admin
from runapi.auth.principal import Principal
from runapi.billing import usage
from runapi.billing.batcher import LedgerBatcher
from runapi.billing.usage import LlmUsage, UsageFilter, UsageScope
from runapi.catalog import get_catalog
from runapi.catalog.validation import validate
from runapi.errors import InvalidInput
from runapi.store import Database
from runapi.store.pages import PageRequest
from runapi.store.schema import accounts, usage_events
from tests.support.services import create_database, env_database_url

DAY = 86_400
T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


@dataclass
class World:
    db: Database
    batcher: LedgerBatcher
    account_id: int
    other_account_id: int


@pytest.fixture
def run(tmp_path: Any) -> Callable[[Callable[[World], Awaitable[Any]]], Any]:
    def go(fn: Callable[[World], Awaitable[Any]]) -> Any:
        async def main() -> Any:
            url = (
                create_database(env_database_url())
                if env_database_url()
                else f"sqlite+aiosqlite:///{tmp_path / 'usage.db'}"
            )
            db = Database(url, "NORMAL")
            await db.create_schema()
            account = await admin.create_account(db, "acme", f"{uuid.uuid4().hex}@x.test", credits_cents=10_000)
            other = await admin.create_account(db, "other", f"{uuid.uuid4().hex}@x.test", credits_cents=10_000)
            batcher = LedgerBatcher(db)
            try:
                return await fn(World(db, batcher, account["account_id"], other["account_id"]))
            finally:
                await batcher.close()
                await db.dispose()

        return asyncio.run(main())

    return go


def llm_facts(model: str = "gpt-5.2", **tokens: int) -> LlmUsage:
    return LlmUsage(model=model, action="chat", provider="sandbox", request_id="req-1", latency_ms=12, **tokens)


async def rows(db: Database, account_id: int) -> list[dict[str, Any]]:
    async with db.read() as conn:
        found = await conn.execute(select(usage_events).where(usage_events.c.account_id == account_id))
        return [dict(r) for r in found.mappings()]


async def balance(db: Database, account_id: int) -> tuple[int, int]:
    async with db.read() as conn:
        row = (
            await conn.execute(
                select(accounts.c.balance_cents, accounts.c.carry_micro_cents).where(accounts.c.id == account_id)
            )
        ).one()
    return int(row[0]), int(row[1])


# ----------------------------------------------------------------------------------------------- writing


def test_an_llm_settle_writes_its_row_with_exact_cost_and_the_cents_charged(run):
    async def scenario(w: World) -> Any:
        before = await balance(w.db, w.account_id)
        costs = [400_000, 400_000, 400_000]  # 0.4 cent each: charged 0, 0, 1 through the carry
        charged = []
        for cost in costs:
            ref = f"llm_{uuid.uuid4().hex}"
            await w.batcher.reserve(w.account_id, "key_a", ref, 5, "gpt-5.2", None)
            charged.append(
                await w.batcher.settle(
                    w.account_id,
                    "key_a",
                    ref,
                    5,
                    cost,
                    usage=llm_facts(
                        input_tokens=100, output_tokens=40, cached_tokens=10, cache_write_tokens=5, reasoning_tokens=7
                    ),
                )
            )
        return before, await balance(w.db, w.account_id), charged, await rows(w.db, w.account_id)

    (bal0, carry0), (bal1, carry1), charged, logged = run(scenario)
    assert charged == [0, 0, 1]
    assert len(logged) == 3
    assert sorted(r["charged_cents"] for r in logged) == [0, 0, 1]
    assert {
        (r["kind"], r["status"], r["model"], r["action"], r["provider"], r["request_id"], r["api_key_id"])
        for r in logged
    } == {("llm", "completed", "gpt-5.2", "chat", "sandbox", "req-1", "key_a")}
    assert {
        (
            r["input_tokens"],
            r["output_tokens"],
            r["cached_tokens"],
            r["cache_write_tokens"],
            r["reasoning_tokens"],
            r["latency_ms"],
        )
        for r in logged
    } == {(100, 40, 10, 5, 7, 12)}
    assert all(r["id"].startswith("usage_") and r["ref"].startswith("llm_") for r in logged)
    # the charged cents are the balance's move exactly; the exact costs are too, with the carry still held
    assert sum(r["charged_cents"] for r in logged) == bal0 - bal1
    assert sum(r["cost_micro_cents"] for r in logged) == (bal0 - bal1) * 1_000_000 + carry1 - carry0


def test_text_too_long_for_its_column_is_clipped_not_a_failed_settle(run):
    async def scenario(w: World) -> Any:
        ref = f"llm_{uuid.uuid4().hex}"
        await w.batcher.reserve(w.account_id, "key_a", ref, 5, "gpt-5.2", None)
        facts = LlmUsage(model="gpt-5.2", action="chat", provider="p" * 300, request_id="r" * 300, latency_ms=1)
        charged = await w.batcher.settle(w.account_id, "key_a", ref, 5, 2_000_000, usage=facts)
        return charged, await rows(w.db, w.account_id)

    charged, [row] = run(scenario)
    assert charged == 2 and (len(row["provider"]), len(row["request_id"])) == (60, 128)


def test_a_refunded_call_is_logged_failed_at_no_cost_once(run):
    async def scenario(w: World) -> Any:
        ref = f"llm_{uuid.uuid4().hex}"
        await w.batcher.reserve(w.account_id, "key_a", ref, 5, "gpt-5.2", None)
        # settle and refund race: only the move that takes effect writes a row
        await asyncio.gather(
            w.batcher.refund(w.account_id, "key_a", ref, 5, "upstream failure", llm_facts()),
            w.batcher.settle(w.account_id, "key_a", ref, 5, 3_000_000, usage=llm_facts()),
        )
        silent = f"llm_{uuid.uuid4().hex}"  # a refund with no call behind it (the janitor's) logs nothing
        await w.batcher.reserve(w.account_id, "key_a", silent, 5, "gpt-5.2", None)
        await w.batcher.refund(w.account_id, "key_a", silent, 5, "abandoned")
        return await rows(w.db, w.account_id)

    logged = run(scenario)
    assert len(logged) == 1
    assert (logged[0]["status"], logged[0]["cost_micro_cents"], logged[0]["charged_cents"]) == ("failed", 0, 0)


def test_usage_rows_ride_in_the_batch_commit(run):
    async def scenario(w: World) -> Any:
        refs = [f"llm_{uuid.uuid4().hex}" for _ in range(40)]
        await asyncio.gather(*(w.batcher.reserve(w.account_id, "k", r, 2, "m", None) for r in refs))
        commits = w.batcher.stats["commits"]
        await asyncio.gather(
            *(w.batcher.settle(w.account_id, "k", r, 2, 1_500_000, usage=llm_facts("m")) for r in refs)
        )
        return w.batcher.stats["commits"] - commits, await rows(w.db, w.account_id)

    settle_commits, logged = run(scenario)
    assert len(logged) == 40
    assert settle_commits < 40  # grouped: the rows added no transaction of their own


def test_a_finished_task_is_logged_with_its_units_and_price(run):
    async def scenario(w: World) -> Any:
        def finish(conn: Any) -> None:
            for task_id, completed in (("t-done", True), ("t-failed", False)):
                usage.record_task(
                    conn,
                    account_id=w.account_id,
                    api_key_id="key_a",
                    task_id=task_id,
                    family="gpt_4o_image",
                    action="text_to_image",
                    model="gpt-4o-image",
                    provider="sandbox",
                    params={"output_count": 3, "prompt": "x"},
                    price_cents=12,
                    completed=completed,
                    created_at=T0,
                    at=T0 + 2.5,
                )
            usage.record_task(
                conn,
                account_id=w.account_id,
                api_key_id="key_a",
                task_id="t-gone",
                family="gone",
                action="gone",
                model="gone",
                provider="sandbox",
                params={},
                price_cents=3,
                completed=True,
                created_at=T0,
                at=T0 + 1,
            )

        await w.db.write_sync(finish)
        return {r["ref"]: r for r in await rows(w.db, w.account_id)}

    logged = run(scenario)
    done, failed, gone = logged["t-done"], logged["t-failed"], logged["t-gone"]
    assert (done["kind"], done["status"], done["unit"], done["units"]) == ("task", "completed", "output_count", 3.0)
    assert (done["cost_micro_cents"], done["charged_cents"], done["latency_ms"]) == (12_000_000, 12, 2500)
    assert (failed["status"], failed["cost_micro_cents"], failed["charged_cents"]) == ("failed", 0, 0)
    assert (gone["unit"], gone["units"], gone["charged_cents"]) == (None, None, 3)  # a model the catalog lost


def test_units_count_what_the_price_counts():
    assert usage.task_units("kling", "text_to_video", "kling-3.0", {"duration_seconds": 10}) == (
        "duration_seconds",
        10.0,
    )
    assert usage.task_units("kling", "text_to_video", "kling-3.0", {}) == ("duration_seconds", 5.0)  # per_default
    hailuo = get_catalog().action("hailuo", "text_to_video")
    _, params = validate(hailuo, {"model": "hailuo-02-text-to-video-standard", "prompt": "x"})
    assert usage.task_units("hailuo", "text_to_video", "hailuo-02-text-to-video-standard", params) == (
        "duration_seconds",
        6.0,
    )  # the default length validation applied, as the quote used
    assert usage.task_units("nano_banana", "text_to_image", "nano-banana", {"prompt": "x"}) == ("request", 1.0)


# ----------------------------------------------------------------------------------------------- reading


async def seed(
    w: World,
    n: int,
    *,
    account_id: int | None = None,
    api_key_id: str = "key_a",
    model: str = "m1",
    kind: str = "llm",
    at: float = T0,
    step: float = 1.0,
    cost: int = 1_000_000,
) -> list[str]:
    """`n` rows `step` seconds apart (step 0: all in one instant, like one LLM batch). Returns their ids."""
    made = []
    for i in range(n):
        row = usage.llm_row(
            account_id or w.account_id,
            api_key_id,
            f"llm_{uuid.uuid4().hex}",
            llm_facts(model),
            completed=True,
            cost_micro_cents=cost,
            charged_cents=cost // 1_000_000,
            at=at + i * step,
        )
        fields = dict(zip(usage.COLUMNS, row), kind=kind)
        made.append(tuple(fields[c] for c in usage.COLUMNS))
    await w.db.write_sync(usage.record_rows, made)
    return [r[0] for r in made]


async def walk(w: World, scope: UsageScope, page: PageRequest, filters: UsageFilter | None = None) -> list[str]:
    """Every id, following `after` cursors page by page."""
    seen: list[str] = []
    cursor = None
    while True:
        got = await usage.list_usage(
            w.db, scope, filters or UsageFilter(), PageRequest(limit=page.limit, after=cursor, order=page.order)
        )
        seen += [e.id for e in got.events]
        if not got.has_more:
            return seen
        cursor = got.events[-1].id


def test_pages_walk_every_row_once_in_creation_order_both_ways(run):
    async def scenario(w: World) -> Any:
        spaced = await seed(w, 7)
        same_instant = await seed(w, 6, at=T0 + 100, step=0)  # ties broken by id
        scope = UsageScope(w.account_id)
        return (
            spaced,
            same_instant,
            await walk(w, scope, PageRequest(limit=3, order="asc")),
            await walk(w, scope, PageRequest(limit=4, order="desc")),
            await walk(w, scope, PageRequest(limit=100)),
        )

    spaced, same_instant, asc, desc, one_page = run(scenario)
    expected = spaced + sorted(same_instant)
    assert asc == expected
    assert desc == list(reversed(expected)) == one_page


def test_before_reads_the_page_preceding_a_row_and_has_more_looks_that_way(run):
    async def scenario(w: World) -> Any:
        ids = await seed(w, 10)  # ids[0] oldest
        scope = UsageScope(w.account_id)
        newest_first = await usage.list_usage(w.db, scope, UsageFilter(), PageRequest(limit=3, before=ids[5]))
        oldest_first = await usage.list_usage(
            w.db, scope, UsageFilter(), PageRequest(limit=3, before=ids[5], order="asc")
        )
        at_start = await usage.list_usage(w.db, scope, UsageFilter(), PageRequest(limit=3, before=ids[2], order="asc"))
        after = await usage.list_usage(w.db, scope, UsageFilter(), PageRequest(limit=3, after=ids[5]))
        first, last = usage.ids(after.events)
        return ids, newest_first, oldest_first, at_start, after, (first, last)

    ids, newest_first, oldest_first, at_start, after, (first, last) = run(scenario)
    # desc: the rows before ids[5] in list order are the newer ones, shown newest first
    assert [e.id for e in newest_first.events] == [ids[8], ids[7], ids[6]] and newest_first.has_more
    assert [e.id for e in oldest_first.events] == [ids[2], ids[3], ids[4]] and oldest_first.has_more
    assert [e.id for e in at_start.events] == [ids[0], ids[1]] and not at_start.has_more
    assert [e.id for e in after.events] == [ids[4], ids[3], ids[2]] and after.has_more
    assert (first, last) == (ids[4], ids[2])


def test_page_requests_are_bounded():
    with pytest.raises(InvalidInput, match="between 1 and 100"):
        PageRequest(limit=0)
    with pytest.raises(InvalidInput, match="between 1 and 100"):
        PageRequest(limit=101)
    with pytest.raises(InvalidInput, match="cannot be used together"):
        PageRequest(after="a", before="b")
    with pytest.raises(InvalidInput, match="kind"):
        UsageFilter(kind="image")
    assert PageRequest(limit=100).limit == 100 and PageRequest().limit == 20


def test_a_cursor_must_be_a_row_the_caller_sees(run):
    async def scenario(w: World) -> Any:
        theirs = await seed(w, 1, account_id=w.other_account_id)
        errors = []
        for cursor in (theirs[0], "usage_nope"):
            try:
                await usage.list_usage(w.db, UsageScope(w.account_id), UsageFilter(), PageRequest(after=cursor))
            except InvalidInput as exc:
                errors.append(exc.message)
        return errors

    errors = run(scenario)
    assert len(errors) == 2 and all("no record with id" in e for e in errors)


def test_filters_and_scopes(run):
    async def scenario(w: World) -> Any:
        a = await seed(w, 3, api_key_id="key_a", model="m1")
        b = await seed(w, 2, api_key_id="key_b", model="m2", at=T0 + DAY)
        t = await seed(w, 1, api_key_id="key_b", model="m1", kind="task", at=T0 + 2 * DAY)
        await seed(w, 2, account_id=w.other_account_id)
        member = await admin.add_member(w.db, w.account_id, f"{uuid.uuid4().hex}@x.test")
        key = await admin.mint_key(w.db, w.account_id, "api", membership_id=member["id"])
        mine = await seed(w, 2, api_key_id=key.id, at=T0 + 3 * DAY)

        async def ids(scope: UsageScope, **filters: Any) -> set[str]:
            got = await usage.list_usage(w.db, scope, UsageFilter(**filters), PageRequest(limit=100))
            return {e.id for e in got.events}

        account = UsageScope(w.account_id)
        return {
            "all": await ids(account) == set(a + b + t + mine),
            "key": await ids(account, api_key_id="key_b") == set(b + t),
            "model": await ids(account, model="m2") == set(b),
            "kind": await ids(account, kind="task") == set(t),
            "window": await ids(account, created_after=T0 + DAY, created_before=T0 + 2 * DAY) == set(b),
            "after_inclusive": await ids(account, created_after=T0 + 2 * DAY) == set(t + mine),
            "api_key_scope": await ids(UsageScope(w.account_id, api_key_id="key_a")) == set(a),
            "key_scope_narrowed": await ids(UsageScope(w.account_id, api_key_id="key_a"), api_key_id="key_b") == set(),
            "member_scope": await ids(UsageScope(w.account_id, membership_id=member["id"])) == set(mine),
        }

    outcome = run(scenario)
    assert all(outcome.values()), outcome


def principal(kind: str, role: str) -> Principal:
    return Principal(
        key_id="k1",
        account_id=7,
        membership_id="member_1",
        user_id=1,
        role=role,
        kind=kind,
        allowed_models=None,
        credit_limit_cents=None,
        credit_limit_reset_interval=None,
    )


def test_who_sees_what():
    assert UsageScope.of(principal("api", "admin")) == UsageScope(7, api_key_id="k1")
    assert UsageScope.of(principal("api", "member")) == UsageScope(7, api_key_id="k1")
    assert UsageScope.of(principal("management", "admin")) == UsageScope(7)
    assert UsageScope.of(principal("management", "member")) == UsageScope(7, membership_id="member_1")


def test_summaries_group_by_day_model_and_key(run):
    async def scenario(w: World) -> Any:
        await seed(w, 3, api_key_id="key_a", model="m1", at=T0 + 10, cost=1_500_000)  # 2026-01-01
        await seed(w, 2, api_key_id="key_b", model="m2", at=T0 + DAY + 10, cost=250_000)  # 2026-01-02
        await seed(w, 1, api_key_id="key_b", model="m1", at=T0 + DAY - 1, cost=4_000_000)  # still 2026-01-01
        await seed(w, 5, account_id=w.other_account_id, at=T0)
        scope = UsageScope(w.account_id)
        out = {g: await usage.summarize_usage(w.db, scope, UsageFilter(), g) for g in usage.GROUPINGS}
        out["m2_only"] = await usage.summarize_usage(w.db, scope, UsageFilter(model="m2"), "day")
        with pytest.raises(InvalidInput, match="group_by"):
            await usage.summarize_usage(w.db, scope, UsageFilter(), "week")
        return out

    out = run(scenario)
    by_day = {g.key: g for g in out["day"]}
    assert list(by_day) == ["2026-01-01", "2026-01-02"]
    assert (by_day["2026-01-01"].requests, by_day["2026-01-01"].cost_micro_cents) == (4, 8_500_000)
    assert by_day["2026-01-01"].cost_cents == 8.5 and by_day["2026-01-01"].charged_cents == 7
    assert (by_day["2026-01-02"].requests, by_day["2026-01-02"].cost_micro_cents) == (2, 500_000)
    assert [(g.key, g.requests, g.cost_micro_cents) for g in out["model"]] == [
        ("m1", 4, 8_500_000),
        ("m2", 2, 500_000),
    ]  # most costly first
    assert [(g.key, g.requests) for g in out["api_key"]] == [("key_a", 3), ("key_b", 3)]
    assert [(g.key, g.requests) for g in out["m2_only"]] == [("2026-01-02", 2)]
    assert all(g.failed == 0 and g.input_tokens == 0 for g in out["day"])
