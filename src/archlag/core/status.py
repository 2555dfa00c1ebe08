"""Why a watch's latest poll went the way it did: a small fixed set, for a metric label.

:class:`WatchStatus` is the value (a reason, a sanitised message and since when); the reasons are
the label values of ``archlag_watch_status``. :data:`REGISTRY_PROBLEMS` are the registry's own
problems, the ones that make ``archlag_registry_up`` 0.
"""

from __future__ import annotations

from dataclasses import dataclass

PENDING = "pending"  # no poll has finished yet
OK = "ok"
NOT_FOUND = "not_found"  # the repository does not exist (yet): an empty repository
DENIED = "denied"  # 401/403 for this repository, while the registry accepts archlag
UNAUTHORIZED = "unauthorized"  # the registry refuses archlag's credentials (or has none)
UNREADABLE = "unreadable"  # the registry answered, but not with something archlag can use
UNREACHABLE = "unreachable"  # connection, timeout or 5xx: the registry itself
RATE_LIMITED = "rate_limited"  # 429, or backing off after one: the registry itself
ERROR = "error"  # archlag's own failure (the state file could not be written, a bug)
WATCH_STATUSES = (
    PENDING, OK, NOT_FOUND, DENIED, UNAUTHORIZED, UNREADABLE, UNREACHABLE, RATE_LIMITED, ERROR,
)  # fmt: skip
# These are the registry's, not the repository's: they make archlag_registry_up 0.
REGISTRY_PROBLEMS = frozenset({UNAUTHORIZED, UNREACHABLE, RATE_LIMITED})


@dataclass(frozen=True, slots=True)
class WatchStatus:
    reason: str = PENDING
    message: str = ""  # short and sanitised: safe for the status page
    since: float | None = None  # when the watch entered this reason

    def then(self, reason: str, message: str, now: float) -> WatchStatus:
        """The status after a poll; ``since`` stays while the reason stays."""
        since = self.since if reason == self.reason and self.since is not None else now
        return WatchStatus(reason, message, since)
