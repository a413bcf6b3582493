"""Log records as JSON lines or text, each carrying the current request id.

`RUNAPI_LOG_FORMAT=json` writes one object per line: ts, level, logger, msg, request_id, then any `extra=`
fields (task_id, ...) and the formatted exception. `configure_logging` installs one handler on the root
logger; uvicorn's loggers propagate to it, so its lines share the format."""

from __future__ import annotations

import logging
import sys
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


def make_handler(log_format: str = "text", stream: IO[str] | None = None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    return handler


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
