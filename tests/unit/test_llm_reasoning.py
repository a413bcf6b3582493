"""The sandbox's reasoning, without a server: it thinks only when asked and leaves room for the answer within
max_tokens. Reasoning on each surface and upstream is in tests/e2e/test_llm_reasoning.py."""

from __future__ import annotations

import pytest

from runapi.llm import sandbox
from runapi.llm.canonical import ChatRequest
from runapi.llm.tokens import text_tokens

ASK = [{"role": "user", "content": "Why is the sky blue?"}]


@pytest.mark.parametrize(
    "request_kwargs, thinks",
    [
        ({}, False),
        ({"reasoning_effort": "none"}, False),
        ({"reasoning_effort": "minimal"}, False),
        ({"reasoning_effort": "low"}, True),
        ({"include_reasoning": True}, True),
        ({"reasoning_budget": 2048}, True),
        ({"include_reasoning": True, "reasoning_effort": "none"}, False),
    ],
)
def test_sandbox_thinks_only_when_asked(request_kwargs, thinks):
    result = sandbox.answer(ChatRequest(model="m", messages=ASK, **request_kwargs))
    assert bool(result.reasoning) is thinks
    assert result.usage.reasoning_tokens == text_tokens(result.reasoning or "")
    assert result.usage.output_tokens == text_tokens(result.text) + result.usage.reasoning_tokens


def test_sandbox_reasoning_leaves_room_for_the_answer_within_max_tokens():
    result = sandbox.answer(ChatRequest(model="m", messages=ASK, reasoning_effort="high", max_tokens=10))
    assert result.reasoning and result.text and result.usage.output_tokens <= 10 and result.finish_reason == "length"
