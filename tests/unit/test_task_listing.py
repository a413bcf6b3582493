"""tasks/listing.py on SQLite: who sees which tasks, each filter, and cursor pages in both directions."""

from __future__ import annotations

import pytest

from runapi.auth import admin
from runapi.billing.usage import UsageScope
from runapi.domain.task import Task
from runapi.errors import InvalidInput
from runapi.store.pages import PageRequest
from runapi.tasks.listing import TaskFilter, list_tasks
from tests.unit import test_engine_states as states
from tests.unit.test_engine_states import Env, run

migrated, data_dir = states.migrated, states.data_dir


async def ids(env: Env, filters: TaskFilter = TaskFilter(), page: PageRequest = PageRequest(), **scope) -> list[str]:
    found = await list_tasks(env.db, UsageScope(env.account, **scope), filters, page)
    return [t.id for t in found.tasks]


def test_filters_and_visibility(data_dir):
    async def scenario(env: Env) -> None:
        key = await admin.mint_key(env.db, env.account, "api")
        a = await env.create()
        b = await env.create(action="edit_image", api_key_id=key.id)
        c = await env.create(model="nano-banana-pro")
        [claimed] = [t for t in await env.claim() if t.id == c.id]
        assert await env.finish(claimed, result={"files": {}, "extra": {}})
        assert await env.claim() == []  # a and b are leased now (running): still processing
        assert await ids(env) == [c.id, b.id, a.id]  # newest first
        assert await ids(env, TaskFilter(action="edit_image")) == [b.id]
        assert await ids(env, TaskFilter(family="nano_banana")) == [c.id, b.id, a.id]
        assert await ids(env, TaskFilter(family="kling")) == []
        assert await ids(env, TaskFilter(model="nano-banana-pro")) == [c.id]
        assert await ids(env, TaskFilter(status="completed")) == [c.id]
        assert await ids(env, TaskFilter(status="processing")) == [b.id, a.id]
        assert await ids(env, TaskFilter(status="failed")) == []
        assert await ids(env, TaskFilter(api_key_id=key.id)) == [b.id]
        assert await ids(env, TaskFilter(created_after=b.created_at)) == [c.id, b.id]
        assert await ids(env, TaskFilter(created_before=b.created_at)) == [a.id]
        # an API key sees its own tasks; another account sees none
        assert await ids(env, api_key_id=key.id) == [b.id]
        other = (await admin.create_account(env.db, "b", "b@example.com", 0))["account_id"]
        assert (await list_tasks(env.db, UsageScope(other), TaskFilter(), PageRequest())).tasks == ()
        with pytest.raises(InvalidInput, match="Invalid value for status"):
            TaskFilter(status="queued")

    run(data_dir, scenario)


def test_pages_in_both_directions(data_dir):
    async def scenario(env: Env) -> None:
        made: list[Task] = [await env.create(price_cents=1) for _ in range(5)]
        newest = [t.id for t in reversed(made)]
        first = await list_tasks(env.db, UsageScope(env.account), TaskFilter(), PageRequest(limit=2))
        assert [t.id for t in first.tasks] == newest[:2] and first.has_more
        second = await list_tasks(
            env.db, UsageScope(env.account), TaskFilter(), PageRequest(limit=2, after=first.last_id)
        )
        assert [t.id for t in second.tasks] == newest[2:4] and second.has_more
        back = await list_tasks(
            env.db, UsageScope(env.account), TaskFilter(), PageRequest(limit=2, before=second.first_id)
        )
        assert [t.id for t in back.tasks] == newest[:2] and not back.has_more
        oldest = await ids(env, page=PageRequest(limit=3, order="asc"))
        assert oldest == [t.id for t in made[:3]]
        with pytest.raises(InvalidInput, match="Invalid value for after"):
            await ids(env, page=PageRequest(after="no-such-task"))

    run(data_dir, scenario)


def test_who_lists_which_tasks():
    from types import SimpleNamespace

    from runapi.tasks.listing import scope_of

    api_key = SimpleNamespace(kind="api", account_id=7, key_id="token_1", role="member", membership_id="m1")
    assert scope_of(api_key) == UsageScope(7)  # an API key: its account's tasks (GET by id allows each)
    admin_ = SimpleNamespace(kind="management", account_id=7, key_id="mgmt_1", role="admin", membership_id="m0")
    assert scope_of(admin_) == UsageScope(7)
    member = SimpleNamespace(kind="management", account_id=7, key_id="mgmt_2", role="member", membership_id="m1")
    assert scope_of(member) == UsageScope(7, membership_id="m1")  # a member: their own keys' tasks


def test_find_task_sees_only_what_its_scope_lists(data_dir):
    from runapi.tasks.listing import find_task

    async def scenario(env: Env) -> None:
        member = await admin.add_member(env.db, env.account, "m@example.com")
        theirs = await admin.mint_key(env.db, env.account, "api", membership_id=member["id"])
        admin_key = await admin.mint_key(env.db, env.account, "api")  # (the admin's membership)
        admins = await env.create(api_key_id=admin_key.id)
        members = await env.create(api_key_id=theirs.id)
        whole, own = UsageScope(env.account), UsageScope(env.account, membership_id=member["id"])
        assert (await find_task(env.db, whole, admins.id)) == admins
        assert (await find_task(env.db, whole, members.id)) == members
        assert (await find_task(env.db, own, members.id)) == members
        assert await find_task(env.db, own, admins.id) is None  # a member: not the admin's key's task
        other = (await admin.create_account(env.db, "b", "b@example.com", 0))["account_id"]
        assert await find_task(env.db, UsageScope(other), admins.id) is None  # nor another account
        assert await find_task(env.db, whole, "no-such-task") is None

    run(data_dir, scenario)
