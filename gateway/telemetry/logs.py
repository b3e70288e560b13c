"""Log lines: JSON (one object a line) or text, each with its trace and span ids.

Standard library ``logging`` with a formatter of our own: a JSON line is
a dozen fields, not worth a dependency. ``GATEWAY_LOG_FORMAT`` picks ``json``
or ``text`` and ``GATEWAY_LOG_LEVEL`` the level. uvicorn's loggers are sent
through the same handler (their own handlers removed), and its access log
loses the query string: a query may name a person, and the route is enough.

What the gateway logs names ids, formats, parties and rules, never a record's
values (tests/gateway/test_no_personal_data_in_telemetry.py searches every line).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from opentelemetry import trace

LogFormat = Literal["json", "text"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
#: Libraries whose lower levels write what goes over the wire (kafka-python's DEBUG
#: logs each record it sends, httpx's INFO each URL with its query): kept at WARNING
#: whatever the gateway's level. Outgoing requests are in the traces instead.
QUIET = ("kafka", "alembic", "sqlalchemy", "httpx", "httpcore")
UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
#: A LogRecord's own attributes: anything else on a record came as ``extra``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "trace_id",
    "span_id",
}


class TraceIds(logging.Filter):
    """Puts the current span's trace and span ids on each record (empty outside a
    span), as it is logged, in the thread that logs it."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            record.trace_id = f"{context.trace_id:032x}"
            record.span_id = f"{context.span_id:016x}"
        else:
            record.trace_id = record.span_id = ""
        return True


class NoQueryString(logging.Filter):
    """uvicorn's access log line without the request's query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "uvicorn.access" and isinstance(record.args, tuple):
            args = list(record.args)
            # (client address, method, path with query, HTTP version, status)
            if len(args) == 5 and isinstance(args[2], str):
                args[2] = args[2].split("?", 1)[0]
                record.args = tuple(args)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, trace and span ids,
    the exception's type and traceback, and whatever ``extra`` the call gave."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        trace_id = getattr(record, "trace_id", "")
        if trace_id:
            line["trace_id"] = trace_id
            line["span_id"] = getattr(record, "span_id", "")
        if record.exc_info and record.exc_info[0] is not None:
            line["exception"] = record.exc_info[0].__name__
            line["traceback"] = self.formatException(record.exc_info)
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in line:
                line[key] = value
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The plain line, with ``trace=...`` appended inside a span."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        trace_id = getattr(record, "trace_id", "")
        if not trace_id:
            return text
        return f"{text} trace={trace_id} span={getattr(record, 'span_id', '')}"


def handler(log_format: LogFormat, stream: TextIO | None = None) -> logging.Handler:
    """A stream handler writing ``log_format`` lines, with the trace ids and the access
    log's query strings taken care of."""
    out = logging.StreamHandler(stream or sys.stderr)
    out.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    out.addFilter(TraceIds())
    out.addFilter(NoQueryString())
    return out


def configure_logging(
    level: str = "INFO", log_format: LogFormat = "text", stream: TextIO | None = None
) -> None:
    """The process's logging: one handler on the root logger, writing to ``stream``
    (standard error); uvicorn's loggers pass through it too. Called again (a second
    runtime), it replaces its handler."""
    root = logging.getLogger()
    for previous in [h for h in root.handlers if getattr(h, "isg_gateway", False)]:
        root.removeHandler(previous)
    out = handler(log_format, stream)
    out.isg_gateway = True  # type: ignore[attr-defined]
    root.addHandler(out)
    root.setLevel(level.upper())
    logging.captureWarnings(True)  # a library's warning is a log line too, in its format
    for name in QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    for name in UVICORN:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
