"""Log output for operators: one JSON object per line for machines, readable text for people.

Connection events carry their structured fields in ``extra={"fields": {...}}`` (event, conn,
developer, user, code, reason, …). The JSON formatter puts them at the top level of the line, so a
log shipper can filter on ``event == "close" and code == 4001`` without parsing prose; the text
formatter appends them as ``key=value`` after the message.
"""

from __future__ import annotations

import logging
import sys
from datetime import datetime, timezone
from typing import Any, TextIO

import orjson

from ..domain.readings import format_timestamp

FORMATS = ("auto", "json", "text")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = getattr(record, "fields", None)
    return fields if isinstance(fields, dict) else {}


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "msg", **fields}`` on one line; ``exc`` holds a traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": format_timestamp(datetime.fromtimestamp(record.created, timezone.utc)),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in _fields(record).items():
            line.setdefault(key, value)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    """The usual one-line text, then the fields as ``key=value`` (strings with spaces quoted)."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        text = super().formatMessage(record)
        pairs = [f"{key}={_text_value(value)}" for key, value in _fields(record).items() if value is not None]
        return " ".join([text, *pairs])


def _text_value(value: object) -> str:
    text = str(value)
    return repr(text) if not text or any(c.isspace() or c in "\"'=" for c in text) else text


def choose_format(log_format: str, stream: TextIO) -> str:
    """``auto`` means JSON unless ``stream`` is a terminal (a person is reading it)."""
    if log_format not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, got {log_format!r}")
    if log_format == "auto":
        return "text" if stream.isatty() else "json"
    return log_format


def configure_logging(
    level: str,
    log_format: str = "auto",
    stream: TextIO | None = None,
    *,
    handler: logging.StreamHandler | None = None,  # type: ignore[type-arg]
) -> None:
    """Send the root logger to ``stream`` (stderr) in the chosen format, replacing its handlers:
    the one logging setup of every command. ``handler`` replaces the plain stream handler (the
    producer's, which clears its status board before a line). httpx logs a line per request
    (a token minted per connection): kept to warnings unless ``level`` is debug."""
    stream = stream if stream is not None else sys.stderr
    handler = handler if handler is not None else logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if choose_format(log_format, stream) == "json" else TextFormatter())
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("httpx").setLevel(logging.DEBUG if level.lower() == "debug" else logging.WARNING)


LEVELS = ("debug", "info", "warning", "error")


def add_logging_options(parser: Any, *, level: str, log_format: str) -> None:
    """``--log-level`` and ``--log-format``, declared once for every command (``parser`` is an
    argparse parser: the entrypoints' option parsers add the env and TOML readings)."""
    parser.add_argument(
        "--log-level", default=level, choices=list(LEVELS),
        help="the least severe log lines written",
    )
    parser.add_argument(
        "--log-format", default=log_format, choices=list(FORMATS),
        help="log lines as JSON or text; auto = JSON unless stderr is a terminal",
    )
