"""Every bound the configuration loader enforces, in one place (README's table lists them).

Each is far above what a real configuration needs and far below what would make loading slow,
deep or large enough to fail with anything but a :class:`~archlag.config.settings.ConfigError`.
"""

from __future__ import annotations

from archlag.core.durations import parse_duration
from archlag.core.lateness import WINDOW

MAX_CONFIG_BYTES = 4 * 1024 * 1024  # the configuration file; a large one is a few KiB
MAX_DEPTH = 64  # nesting of YAML mappings and lists; archlag's keys need 6
MAX_NODES = 100_000  # YAML nodes, with what aliases refer to counted at every use
MAX_REPORTED_ISSUES = 100  # issues written in the message; ConfigError.issues holds them all
MAX_SECRET_BYTES = 64 * 1024  # a *_file secret; tokens are at most a few KiB

MAX_SETTING_SECONDS = parse_duration("1y")  # interval, settled_interval, stall_after, ...
MAX_TIMEOUT_SECONDS = parse_duration("1h")  # one registry request
MAX_LATENCY_BUCKETS = 64  # histogram buckets: each is a series per tag and platform
MAX_PLATFORMS = 64  # expected platforms of one watch; real images have tens at most
TAG_LIMIT = (1, 10_000)  # tags.limit: each kept tag is polled and exported
MAX_PATTERNS = 100  # tags.include or tags.exclude
MAX_PATTERN_LENGTH = 1000  # characters of one pattern; a tag has at most 128
CONCURRENCY = (1, 64)  # registries.<host>.concurrency
REQUESTS_PER_MINUTE = (1, 100_000)  # registries.<host>.requests_per_minute
MAX_RECEIVERS = 64  # receivers: entries
EVENTS_PER_SECOND = (1, 10_000)  # receivers[].events_per_second
DISCOVERED_IMAGES = (1, 10_000)  # discovery.max_images: each becomes a watch
MAX_NAMESPACES = 1000  # discovery.kubernetes.namespaces
MAX_DISCOVERY_PATHS = 100  # discovery.files.paths (each may be a folder)
LATENESS_MARGIN = (1.0, 100.0)  # lateness.margin: below 1 would page on ordinary releases
LATENESS_MIN_OBSERVATIONS = (1, WINDOW)  # lateness.min_observations: at most what is kept
