"""One write per upstream read: SSE frames made from the events of one network read of the upstream's stream go
to the client in one write, not one each.

The stream is pulled through generators (upstream reader → adapter → router → metering → surface encoder), all in
the response's task, so the reader knows where a read ends and the writer knows nothing of reads. They meet here:
the writer installs a `ReadBatch` for its task; the reader marks it `holding` while it hands out the lines of one
read, and calls `flush` before waiting for the next. The writer keeps frames while `holding` and writes them (with
the frame in hand) otherwise, so a source that reads nothing (the sandbox) is written frame by frame as before."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar


class ReadBatch:
    __slots__ = ("holding", "flush")

    def __init__(self, flush: Callable[[], Awaitable[None]]):
        self.holding = False
        self.flush = flush


current_batch: ContextVar[ReadBatch | None] = ContextVar("runapi_read_batch", default=None)
