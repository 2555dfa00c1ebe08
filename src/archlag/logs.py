"""Structured logging: one line per event on stderr, ``key=value`` pairs after the event name.

Values from registries are untrusted, so every value is quoted and escaped when it holds
anything but plain characters: a tag name cannot forge a log line.

Secrets never reach the log: :func:`setup` installs a :class:`SecretFilter` that masks every
known secret (every live :class:`~archlag.secrets.Secret`, in every form
:func:`archlag.secrets.scrub` knows: escaped, JSON-escaped, URL-encoded, base64) in each record's
message, fields, exception text and stack, whichever logger it comes from.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from typing import Any

from archlag.secrets import scrub, scrub_value

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
        exception = record.exc_text
        if not exception and record.exc_info and record.exc_info[1] is not None:
            exception = self.formatException(record.exc_info)
        if exception:
            parts.append(f"exception={format_value(exception)}")
        return " ".join(parts)


class SecretFilter(logging.Filter):
    """Masks known secrets in a record before any handler formats it; lets every record pass.

    The exception is formatted here, scrubbed into ``exc_text``, and ``exc_info`` dropped, so
    that no handler can print the original exception's text.
    """

    _tracebacks = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # arguments that do not fit the format: log it anyway
            message = f"{record.msg} (log arguments did not fit)"
        record.msg = scrub(message)
        record.args = None
        fields = getattr(record, _FIELDS, None)
        if isinstance(fields, dict):
            setattr(record, _FIELDS, {key: scrub_value(value) for key, value in fields.items()})
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self._tracebacks.formatException(record.exc_info)
        record.exc_info = None
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


def event(logger: logging.Logger, level: int, name: str, **fields: Any) -> None:
    """Log ``name`` with context, e.g. ``event(log, INFO, "poll_done", repository=...)``."""
    if logger.isEnabledFor(level):
        logger.log(level, name, extra={_FIELDS: fields})


def setup(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    handler.addFilter(SecretFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request at INFO with full URLs; archlag logs what matters itself.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
