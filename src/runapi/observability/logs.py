"""Log records as JSON lines or text, each carrying the current request id.

`RUNAPI_LOG_FORMAT=json` writes one object per line: ts, level, logger, msg, request_id, then any `extra=`
fields (task_id, ...) and the formatted exception. `configure_logging` installs one handler on the root
logger; uvicorn's loggers propagate to it, so its lines share the format.

The access line (one per request) skips the logging machinery while that handler is the only one it would
reach, as configured: `LogHandler.access_line` formats the very line a LogRecord would have produced and
buffers it until the event loop's next turn (one write for the lines of a turn), or until any other record
goes out through the handler, which writes the buffered lines first, so the order of lines is kept. A clean
shutdown flushes it (logging.shutdown flushes every handler); a kill -9 can lose the lines of one turn."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from datetime import UTC, datetime
from typing import IO, Any

import orjson

from .context import request_id

# Attributes every LogRecord has; anything else on a record came from `extra=` and is logged as a field
# (but uvicorn's color_message: the msg again, with terminal colour codes).
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "request_id",
    "color_message",
}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class RequestIdFilter(logging.Filter):
    """Stamps the current request id on each record (a handler filter, so records of every logger get it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": getattr(record, "request_id", request_id.get()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(entry, default=str).decode()


ACCESS_LOGGER = "runapi.access"


class LogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The root handler `configure_logging` installs: a StreamHandler with the request-id filter and the chosen
    format, which can also write access lines without a LogRecord (`access_line`)."""

    def __init__(self, log_format: str, stream: IO[str]):
        super().__init__(stream)
        self.log_format = log_format
        self._filter = RequestIdFilter()
        self.addFilter(self._filter)
        self._formatter = JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
        self.setFormatter(self._formatter)
        self._pending: list[str] = []
        self._scheduled = False
        self._second = -1  # the whole second `_stamp` was formatted for (text format)
        self._stamp = ""

    def as_configured(self) -> bool:
        """Its own formatter and filter only, and INFO passes: an access line formatted here is the one
        `emit` would write."""
        return (
            self.formatter is self._formatter
            and len(self.filters) == 1
            and self.filters[0] is self._filter
            and self.level <= logging.INFO
        )

    def access_line(self, msg: str, request_id: str | None, extra: dict[str, Any]) -> None:
        """Buffer the line `logging.getLogger(ACCESS_LOGGER).info(msg, extra=extra)` would write now."""
        created = time.time()  # what LogRecord takes as `created`
        if self.log_format == "json":
            entry: dict[str, Any] = {
                "ts": datetime.fromtimestamp(created, tz=UTC).isoformat(timespec="milliseconds"),
                "level": "INFO",
                "logger": ACCESS_LOGGER,
                "msg": msg,
                "request_id": request_id,
                **extra,
            }
            line = orjson.dumps(entry, default=str).decode()
        else:
            second = int(created)
            if second != self._second:  # Formatter.formatTime's default format, minus the milliseconds
                self._stamp = time.strftime(logging.Formatter.default_time_format, time.localtime(created))
                self._second = second
            msecs = int((created - second) * 1000)  # LogRecord.msecs
            line = f"{self._stamp},{msecs:03d} INFO {ACCESS_LOGGER} [{request_id}] {msg}"
        with self.lock:  # type: ignore[union-attr]
            self._pending.append(line + self.terminator)
            if self._scheduled:
                return
            try:
                asyncio.get_running_loop().call_soon(self._write_pending)
                self._scheduled = True
                return
            except RuntimeError:  # no event loop in this thread: write at once
                pass
        self._write_pending()

    def _write_pending(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._scheduled = False
            if not self._pending:
                return
            lines, self._pending = self._pending, []
            try:
                self.stream.write("".join(lines))
                super().flush()
            except Exception:  # as emit does: report through handleError, never into the request
                self.handleError(logging.makeLogRecord({"msg": "access lines", "levelno": logging.INFO}))

    def emit(self, record: logging.LogRecord) -> None:
        if self._pending:  # buffered access lines go out before this record, in the order they came
            self._write_pending()
        super().emit(record)

    def flush(self) -> None:  # logging.shutdown (atexit) flushes every handler: no buffered line is lost
        self._write_pending()
        super().flush()


def make_handler(log_format: str = "text", stream: IO[str] | None = None) -> logging.Handler:
    return LogHandler(log_format, stream or sys.stderr)


def access_handler(logger: logging.Logger) -> LogHandler | None:
    """The LogHandler a record of `logger` would reach, when it is the only handler it would reach, as
    configured; None otherwise (a test's capture handler, a filter on the logger, another formatter, ...):
    then the line goes through logging as any record does."""
    if logger.filters:
        return None
    found: logging.Logger | None = logger
    while found is not None:
        if found.handlers:
            if found is not logging.root or len(found.handlers) != 1:
                return None
            handler = found.handlers[0]
            return handler if type(handler) is LogHandler and handler.as_configured() else None
        if not found.propagate:
            return None
        found = found.parent
    return None


def configure_logging(log_format: str = "text", level: str | int = "INFO", stream: IO[str] | None = None) -> None:
    """Replace the root logger's handlers with one in the chosen format. Pass `log_config=None` and
    `access_log=False` to uvicorn so it neither installs its own handlers nor logs each request a second time
    (the RequestObserver middleware writes the access line)."""
    if log_format not in ("text", "json"):
        raise ValueError(f"log format must be text or json, not {log_format!r}")
    # Neither format shows the caller's file/line, the thread or the process, yet every record would look them
    # up (a stack walk, the thread and process names): ~15 % of an access line's cost, thrown away.
    logging._srcfile = None  # the switch the logging HOWTO documents for skipping findCaller
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(make_handler(log_format, stream))
    root.setLevel(level.upper() if isinstance(level, str) else level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
