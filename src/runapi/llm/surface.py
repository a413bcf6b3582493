"""What a protocol plugs into the one generic LLM chat handler (api/llm_common.serve_chat).

The handler does, for every surface: authenticate → parse (the protocol) → admit (model, allow-list, guardrail,
reservation) → run (one call, or a metered stream) → settle or refund. A protocol gives it a `ChatCall`: the
canonical request to admit and run, and how its answer is written, whole (`answer`) or as frames of a stream
(`frames`). Calls are plain objects over canonical types, so their encoders are tested without a server."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from .canonical import ChatRequest, ChatResult, Delta, Usage

# Streamed answers must reach the client as they are produced: no caching, no buffering proxy (nginx).
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class Deltas(Protocol):
    """The metered deltas of one streamed call, as an encoder sees them (api/llm_common.MeteredStream)."""

    first: Delta | None  # the first delta, already received when the stream begins
    usage: Usage  # the usage the upstream reported so far

    def __aiter__(self) -> AsyncIterator[Delta]: ...

    def billable_usage(self) -> Usage: ...

    async def close(self) -> None:
        """Settle now (idempotent): for protocols whose last frame should follow the settlement."""


@dataclass(frozen=True)
class Failure:
    """An exception raised mid-stream, in client terms: the HTTP status its refusal maps to and its message;
    `internal` when it was not a refusal at all (a bug, a broken connection)."""

    status: int
    message: str
    internal: bool = False


Describe = Callable[[BaseException], Failure]  # the edge's mapping of refusals to status and message


@dataclass(frozen=True)
class Answering:
    """Who answers, known once the call is admitted."""

    model: str  # the catalog model id
    sandbox: bool  # the sandbox LLM answers, not a real model


class ChatCall(ABC):
    """One parsed chat call in one protocol's terms."""

    media_type = "text/event-stream"  # of the streamed answer

    def __init__(self, req: ChatRequest):
        self.req = req
        self.headers: dict[str, str] = {}  # protocol headers on the answer (before the sandbox marker)

    @abstractmethod
    async def answer(self, who: Answering, result: ChatResult) -> dict[str, Any]:
        """The JSON body of the non-streamed answer (the call is already settled)."""

    @abstractmethod
    def frames(self, who: Answering, deltas: Deltas, describe: Describe) -> AsyncGenerator[bytes, None]:
        """The streamed answer's bytes. The handler settles (or refunds) after the last frame, or when the
        client leaves; an error after the first frame is the protocol's to report in-band, or to raise."""
