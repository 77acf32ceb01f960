"""Structured logs: one JSON object per line, carrying the request id.

CloudWatch Logs Insights parses JSON lines into fields, so a user who quotes
the request id from an error page leads straight to every line of that
request. The id lives in a context variable set by the request middleware
(`app.http.errors`); it is per request, never a module-level value that could leak
from one invocation into the next.

On Lambda the runtime has already put its own handler on the root logger;
`configure_logging` gives that handler (or a new stderr one) the JSON format
instead of adding a second, duplicating handler.

Request targets are logged without what works as a password: a stream token
in `/s/…` and any query string (OAuth code and state, signed upload and
download URLs). The filter is put on uvicorn's access logger and ours when
this module is imported, so it holds under `make run`, `make demo` and Lambda.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

# Attributes every LogRecord has; anything else came in through `extra=`.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


_STREAM_TOKEN = re.compile(r"^/s/[^/?]*")
REDACTED_TOKEN = "/s/[token]"
REDACTED_QUERY = "?[query]"
# uvicorn writes one access line per request on this logger; ours is app.http.errors'.
REDACTED_LOGGERS = ("uvicorn.access", "yss.request")


def redact_target(target: str) -> str:
    """A request path (and query) as it may be logged: no stream token, no query values."""
    path, has_query, _ = target.partition("?")
    return _STREAM_TOKEN.sub(REDACTED_TOKEN, path) + (REDACTED_QUERY if has_query else "")


class RedactTargets(logging.Filter):
    """Redacts every path-like argument of a record, and its `path` field."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_target(a) if isinstance(a, str) and a.startswith("/") else a for a in record.args
            )
        path = getattr(record, "path", None)
        if isinstance(path, str):
            record.path = redact_target(path)
        return True


def install_redaction() -> None:
    """Idempotent: the filter on each logger that writes request targets."""
    for name in REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTargets) for f in logger.filters):
            logger.addFilter(RedactTargets())


def current_request_id() -> str | None:
    return request_id_var.get()


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line: time, level, logger, message,
    request_id, any `extra=` fields, and the traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and key not in entry and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(level: int | str = logging.INFO) -> None:
    """Make every root handler write JSON lines (idempotent; safe to call per container)."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stderr))
    for handler in root.handlers:
        if not isinstance(handler.formatter, JsonFormatter):
            handler.setFormatter(JsonFormatter())
    root.setLevel(level)


install_redaction()
