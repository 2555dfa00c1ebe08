"""Structured logging: one line per event on stderr, ``key=value`` pairs after the event name.

Values from registries are untrusted, so every value is quoted and escaped when it holds
anything but plain characters: a tag name cannot forge a log line.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from typing import Any

_PLAIN = re.compile(r"[A-Za-z0-9._:/@+\-]+")
_FIELDS = "archlag_fields"


def format_value(value: Any) -> str:
    text = f"{value:.3f}" if isinstance(value, float) else str(value)
    if _PLAIN.fullmatch(text):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in escaped)
    return f'"{escaped}"'


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        parts = [
            f"ts={stamp}.{int(record.msecs):03d}Z",
            f"level={record.levelname.lower()}",
            f"logger={record.name}",
            f"event={format_value(record.getMessage())}",
        ]
        fields: dict[str, Any] = getattr(record, _FIELDS, {})
        parts += [f"{key}={format_value(value)}" for key, value in fields.items()]
        if record.exc_info and record.exc_info[1] is not None:
            parts.append(f"exception={format_value(self.formatException(record.exc_info))}")
        return " ".join(parts)


def event(logger: logging.Logger, level: int, name: str, **fields: Any) -> None:
    """Log ``name`` with context, e.g. ``event(log, INFO, "poll_done", repository=...)``."""
    if logger.isEnabledFor(level):
        logger.log(level, name, extra={_FIELDS: fields})


def setup(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request at INFO with full URLs; archlag logs what matters itself.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
