"""Single-flight refresh of the auth and guardrail caches: when an entry is missing or expired and many requests
arrive at once, one lookup runs and the others await it (counted), on a real SQLite database."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from runapi.auth import admin, principal
from runapi.auth.principal import Authenticator, Principal
from runapi.errors import Unauthenticated
from runapi.policy import guardrail_store, guardrails
from runapi.policy.guardrails import GuardrailCache
from runapi.settings import Settings
from runapi.singleflight import SingleFlight
from runapi.store import Database
from tests.support.migrated_db import copy_into, migrated_template

CALLERS = 100
T = TypeVar("T")


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrated_template(tmp_path_factory)


@pytest.fixture
def url(tmp_path: Path, migrated: Path) -> str:
    copy_into(migrated, tmp_path)
    return Settings(data_dir=tmp_path).resolved_database_url


class Gated:
    """Wraps a lookup: counts its calls and holds each until `open()`, so every caller arrives while one runs."""

    def __init__(self, lookup: Callable[..., Awaitable[Any]]):
        self.lookup = lookup
        self.calls = 0
        self.gate = asyncio.Event()

    async def __call__(self, *args: Any) -> Any:
        self.calls += 1
        await self.gate.wait()
        return await self.lookup(*args)


async def settle() -> None:
    for _ in range(5):  # let every gathered caller reach its await
        await asyncio.sleep(0)


def run(url: str, scenario: Callable[[Database, Principal, str], Awaitable[T]]) -> T:
    async def go() -> T:
        db = Database(url)
        try:
            _, key = await admin.create_account_with_key(db, "a", "a@example.com", 1000, "k")
            who = await principal.authenticate(db, key.token)
            return await scenario(db, who, key.token)
        finally:
            await db.dispose()

    return asyncio.run(go())


def test_expired_auth_entry_is_looked_up_once_for_many_requests(url, monkeypatch):
    async def scenario(db: Database, who: Principal, token: str) -> None:
        counted = Gated(principal.authenticate)
        monkeypatch.setattr(principal, "authenticate", counted)
        auth = Authenticator(db, ttl=0.0)  # every entry is expired by the next request
        for wave in (1, 2):
            calls = [asyncio.ensure_future(auth(token)) for _ in range(CALLERS)]
            await settle()
            assert counted.calls == wave  # one lookup running, the others waiting for it
            counted.gate.set()
            assert await asyncio.gather(*calls) == [who] * CALLERS
            counted.gate.clear()
        assert counted.calls == 2  # one per expiry, not one per request

    run(url, scenario)


def test_a_failed_auth_lookup_fails_every_waiter_and_the_next_request_retries(url, monkeypatch):
    async def scenario(db: Database, who: Principal, token: str) -> None:
        counted = Gated(principal.authenticate)
        monkeypatch.setattr(principal, "authenticate", counted)
        auth = Authenticator(db, ttl=5.0)
        bad = token[:-1] + ("x" if token[-1] != "x" else "y")
        calls = [asyncio.ensure_future(auth(bad)) for _ in range(10)]
        await settle()
        counted.gate.set()
        results = await asyncio.gather(*calls, return_exceptions=True)
        assert all(isinstance(r, Unauthenticated) for r in results) and counted.calls == 1
        with pytest.raises(Unauthenticated):
            await auth(bad)
        assert counted.calls == 2  # failures are not cached
        assert await auth(token) == who and await auth(token) == who
        assert counted.calls == 3  # the good key: looked up once, then cached

    run(url, scenario)


def test_a_caller_that_gives_up_does_not_cancel_the_lookup_for_the_others(url, monkeypatch):
    async def scenario(db: Database, who: Principal, token: str) -> None:
        counted = Gated(principal.authenticate)
        monkeypatch.setattr(principal, "authenticate", counted)
        auth = Authenticator(db, ttl=5.0)
        first = asyncio.ensure_future(auth(token))
        await settle()
        others = [asyncio.ensure_future(auth(token)) for _ in range(5)]
        await settle()
        first.cancel()  # the request that started the lookup went away
        await settle()
        counted.gate.set()
        assert await asyncio.gather(*others) == [who] * 5 and counted.calls == 1
        assert first.cancelled()

    run(url, scenario)


def test_forget_during_a_lookup_starts_a_new_one_and_keeps_the_old_answer_out(url, monkeypatch):
    async def scenario(db: Database, who: Principal, token: str) -> None:
        counted = Gated(principal.authenticate)
        monkeypatch.setattr(principal, "authenticate", counted)
        auth = Authenticator(db, ttl=60.0)
        stale = asyncio.ensure_future(auth(token))
        await settle()
        auth.forget(who.key_id)  # the key changed while the lookup was reading it
        fresh = asyncio.ensure_future(auth(token))
        await settle()
        assert counted.calls == 2  # the later request did not join the earlier lookup
        counted.gate.set()
        await asyncio.gather(stale, fresh)
        counted.gate.clear()
        assert await auth(token) == who and counted.calls == 2  # fresh's answer is cached, stale's was not stored

    run(url, scenario)


def test_expired_guardrail_entry_is_looked_up_once_for_many_requests(url, monkeypatch):
    async def scenario(db: Database, who: Principal, token: str) -> None:
        g = await guardrail_store.create_guardrail(db, who, {"name": "g", "allowed_models": ["m1"]})
        await guardrail_store.create_assignment(db, who, g.id, api_key_id=who.key_id)
        counted = Gated(guardrails.effective_guardrails)
        monkeypatch.setattr(guardrails, "effective_guardrails", counted)
        cache = GuardrailCache(db, ttl=0.0)
        for wave in (1, 2):
            calls = [asyncio.ensure_future(cache.get(who)) for _ in range(CALLERS)]
            await settle()
            assert counted.calls == wave
            counted.gate.set()
            answers = await asyncio.gather(*calls)
            assert {a[0]["id"] for a in answers} == {g.id} and all(a == answers[0] for a in answers)
            counted.gate.clear()
        assert counted.calls == 2

    run(url, scenario)


def test_single_flight_keys_are_independent():
    async def scenario() -> None:
        flights: SingleFlight[str, str] = SingleFlight()
        started: list[str] = []
        gate = asyncio.Event()

        async def lookup(key: str) -> str:
            started.append(key)
            await gate.wait()
            return key.upper()

        calls = [asyncio.ensure_future(flights.do(k, lambda k=k: lookup(k))) for k in ("a", "b") * 10]
        await settle()
        assert sorted(started) == ["a", "b"]
        gate.set()
        assert await asyncio.gather(*calls) == ["A", "B"] * 10

    asyncio.run(scenario())
