"""Rate limits, the pure parts and the in-process counters: which limit binds (the stricter of key and
guardrail, the account's on its own counter), when a refused client may retry, exact rpm and in-flight counts
under concurrency, tokens recorded past the limit, and the field checks of the Keys and Guardrails APIs."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from prometheus_client import REGISTRY

from runapi.api.management import opt_rate
from runapi.auth.keys import ApiKey, initial_settings, ownership
from runapi.errors import ApiError, Forbidden, RateLimited
from runapi.ratelimit import RateLimiter, RateLimits
from runapi.ratelimit.policy import MAX_LIMIT, Bound, bounds, retry_after_moving, retry_after_sliding
from tests.unit.test_services_unit import key, who

NONE = RateLimits()


def refusals(kind: str, scope: str) -> float:
    return REGISTRY.get_sample_value("runapi_rate_limited_total", {"kind": kind, "scope": scope}) or 0.0


# ------------------------------------------------------------------------------------------------- policy


def test_no_limit_anywhere_means_no_bounds() -> None:
    assert bounds("token_1", 1, NONE, [NONE, NONE], NONE) == ()


def test_the_stricter_of_key_and_guardrails_binds_the_key_counter() -> None:
    got = bounds("token_1", 7, RateLimits(rpm=50, tpm=1000), [RateLimits(rpm=20), RateLimits(parallel=3)], NONE)
    assert got == (
        Bound("rpm", 20, "key:token_1", "guardrail"),
        Bound("tpm", 1000, "key:token_1", "key"),
        Bound("parallel", 3, "key:token_1", "guardrail"),
    )
    # a laxer guardrail lifts nothing; a tie is the key's own
    assert bounds("k", 7, RateLimits(rpm=10), [RateLimits(rpm=100)], NONE) == (Bound("rpm", 10, "key:k", "key"),)
    assert bounds("k", 7, RateLimits(rpm=10), [RateLimits(rpm=10)], NONE) == (Bound("rpm", 10, "key:k", "key"),)


def test_account_limits_count_on_the_account_counter() -> None:
    got = bounds("k", 7, RateLimits(rpm=5), [], RateLimits(rpm=100, parallel=4))
    assert got == (
        Bound("rpm", 5, "key:k", "key"),
        Bound("rpm", 100, "account:7", "account"),
        Bound("parallel", 4, "account:7", "account"),
    )


def test_refusal_message_is_the_documented_one_with_the_limit() -> None:
    text = Bound("rpm", 37, "key:k", "key").refusal()
    assert text.startswith("Too many requests. Please retry later.") and "37 requests per minute" in text


def test_retry_after_a_full_moving_window_is_when_its_oldest_request_leaves() -> None:
    assert retry_after_moving(oldest=100.0, now=130.2) == 30
    assert retry_after_moving(oldest=100.0, now=159.99) == 1
    assert retry_after_moving(oldest=100.0, now=170.0) == 1  # never 0


def test_retry_after_a_sliding_token_window() -> None:
    # current window alone over the limit: it must end (10 s) and then decay until 2000 * (1 - s/60) < 1000
    assert retry_after_sliding(1000, 0, 0.0, 2000, 70.0) == 10 + 30
    # under the limit now, held over it by the previous window's weight: 600 * (30 - t) / 60 + 800 < 1000
    assert retry_after_sliding(1000, 600, 30.0, 800, 90.0) == 10
    assert retry_after_sliding(1000, 0, 0.0, 10, 61.0) == 1


# -------------------------------------------------------------------------------------------- the counters


def test_rpm_is_exact_under_concurrency_in_one_process() -> None:
    async def go() -> list[bool]:
        limiter = RateLimiter(NONE)
        found = (Bound("rpm", 37, "key:k", "key"),)

        async def one() -> bool:
            try:
                await limiter.admit(found)
                return True
            except RateLimited as exc:
                assert exc.retry_after is not None and 1 <= exc.retry_after <= 60
                return False

        return await asyncio.gather(*(one() for _ in range(100)))

    before = refusals("rpm", "key")
    outcome = asyncio.run(go())
    assert outcome.count(True) == 37 and outcome.count(False) == 63
    assert refusals("rpm", "key") - before == 63


def test_parallel_slots_are_taken_and_given_back() -> None:
    async def go() -> None:
        limiter = RateLimiter(NONE)
        found = (Bound("parallel", 2, "key:k", "key"), Bound("parallel", 3, "account:1", "account"))
        first, second = await limiter.admit(found), await limiter.admit(found)
        with pytest.raises(RateLimited) as refused:
            await limiter.admit(found)
        assert refused.value.retry_after == 1
        assert limiter.slots.used == {"key:k": 2, "account:1": 2}  # the refused request holds nothing
        await limiter.release(first)
        await limiter.release(first)  # twice is harmless
        third = await limiter.admit(found)
        # another key of the account: the account's third slot, then the account is full
        other = (Bound("parallel", 5, "key:o", "key"), Bound("parallel", 3, "account:1", "account"))
        fourth = await limiter.admit(other)
        with pytest.raises(RateLimited):
            await limiter.admit(other)
        assert limiter.slots.used["key:o"] == 1  # the key slot taken before the account refused was given back
        for held in (second, third, fourth):
            await limiter.release(held)
        assert limiter.slots.used == {}

    before = refusals("parallel", "account")
    asyncio.run(go())
    assert refusals("parallel", "account") - before == 1


def test_tokens_count_past_the_limit_and_then_refuse() -> None:
    async def go() -> None:
        limiter = RateLimiter(NONE)
        found = (Bound("tpm", 1000, "key:k", "key"),)
        held = await limiter.admit(found, check_tokens=True)
        await limiter.record_tokens(held, 999)
        await limiter.check_tokens(held.token_bounds)  # under: still served
        await limiter.record_tokens(held, 5000)  # one big call is recorded whole, though past the limit
        with pytest.raises(RateLimited) as refused:
            await limiter.admit(found, check_tokens=True)
        assert refused.value.code == "rate_limit_exceeded" and refused.value.retry_after is not None
        assert 1 <= refused.value.retry_after <= 120
        assert "1000 tokens per minute" in refused.value.message

    asyncio.run(go())


# ------------------------------------------------------------------------------------------ the API fields


@pytest.mark.parametrize("value", [0, -1, 1.5, "10", True, MAX_LIMIT + 1, [1]])
def test_a_rate_limit_field_must_be_a_positive_integer_within_storage(value) -> None:
    with pytest.raises(ApiError) as refused:
        opt_rate({"rpm_limit": value}, "rpm_limit")
    assert refused.value.status == 422 and "rpm_limit" in refused.value.message


def test_null_or_empty_clears_a_rate_limit() -> None:
    assert opt_rate({"tpm_limit": None}, "tpm_limit") is None
    assert opt_rate({"tpm_limit": ""}, "tpm_limit") is None
    assert opt_rate({"tpm_limit": MAX_LIMIT}, "tpm_limit") == MAX_LIMIT


def test_a_key_created_with_a_rate_limit_is_owned_by_its_creator() -> None:
    settings = initial_settings(who("admin", "member_admin"), {"rpm_limit": 10})
    assert settings["rpm_limit"] == 10 and settings["limits_set_by"] == "member_admin"


def test_a_member_cannot_lift_a_rate_limit_an_admin_set() -> None:
    limited: ApiKey = dataclasses.replace(key(), max_parallel_requests=2, limits_set_by="member_admin")
    with pytest.raises(Forbidden):
        ownership(who("member"), limited, {"max_parallel_requests": None})
    assert ownership(who("admin", "member_admin"), limited, {"max_parallel_requests": None}) == {"limits_set_by": None}
    # a member's own limit on their own key is theirs to change
    own = dataclasses.replace(key(), rpm_limit=5, limits_set_by="member_me")
    assert ownership(who("member"), own, {"rpm_limit": 50}) == {"limits_set_by": "member_me"}


# ------------------------------------------------------------------------------ the in-process windows


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


def test_memory_moving_window_is_exact_and_forgets_idle_keys(monkeypatch) -> None:
    from runapi.ratelimit import memory

    clock = Clock(1000.0)
    monkeypatch.setattr(memory, "time", clock)

    async def go() -> None:
        storage = memory.WindowMemoryStorage()
        for t in (1000.0, 1010.0, 1020.0):
            clock.now = t
            assert await storage.acquire_entry("k", 3, 60)
        clock.now = 1030.0
        assert not await storage.acquire_entry("k", 3, 60)  # three in the last minute
        assert await storage.get_moving_window("k", 3, 60) == (1000.0, 3)
        clock.now = 1060.0
        assert not await storage.acquire_entry("k", 3, 60)  # exactly one window old still counts
        clock.now = 1060.5
        assert await storage.acquire_entry("k", 3, 60)  # the first left the window
        assert await storage.get_moving_window("k", 3, 60) == (1010.0, 3)
        assert not await storage.acquire_entry("other", 2, 60, amount=3)
        clock.now = 1200.0
        assert await storage.acquire_entry("fresh", 1, 60)  # a window later: idle keys are forgotten
        assert set(storage.windows) == {"fresh"}

    asyncio.run(go())
