"""Structured JSON logs, one object per line; secrets and signatures never appear."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}
_SENSITIVE = ("secret", "signature", "password", "token", "authorization", "cookie")


def _sensitive(key: str) -> bool:
    lower = key.lower()
    return any(word in lower for word in _SENSITIVE)


class JsonFormatter(logging.Formatter):
    """Formats a record as JSON: time, level, logger, message and the `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                doc[key] = "[redacted]" if _sensitive(key) else value
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(doc, default=str).decode()


def configure_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    """Send every log record to `stream` (stderr) as JSON lines, replacing other handlers."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # aiokafka is chatty at INFO (every connection); its warnings and errors still show
    logging.getLogger("aiokafka").setLevel(max(root.level, logging.WARNING))
