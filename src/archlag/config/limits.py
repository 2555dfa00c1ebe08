"""Every bound the configuration loader enforces, in one place (README's table lists them).

Each is far above what a real configuration needs and far below what would make loading slow,
deep or large enough to fail with anything but a :class:`~archlag.config.model.ConfigError`.
"""

from __future__ import annotations

MAX_SECRET_BYTES = 64 * 1024  # a *_file secret; tokens are at most a few KiB
MAX_PATTERN_LENGTH = 1000  # characters of one pattern; a tag has at most 128
