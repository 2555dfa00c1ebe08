"""What every part of the reliability suite shares: watch statuses, the control, planted secrets,
bounds on waiting."""

from __future__ import annotations

from tests.support.hostile_http import GOOD_PLATFORMS

OK, NOT_FOUND, DENIED, UNAUTHORIZED = "ok", "not_found", "denied", "unauthorized"
UNREADABLE, UNREACHABLE, RATE_LIMITED = "unreadable", "unreachable", "rate_limited"
CONTROL = "control/app"
BOTH = list(GOOD_PLATFORMS)
PRESENT = dict.fromkeys(BOTH, 1.0)  # what platforms_of shows for a complete tag
NEW = [*BOTH, "linux/arm/v7"]  # the platforms of an attacked tag's new content
USER, PASSWORD = "robot", "planted-Basic-pw-7Qx"  # planted: must appear nowhere
REDOS_TAG = "1" * 40 + "a"  # ^(\d+\.?)+$ backtracks exponentially on it
WAIT = 60.0  # bound on every wait; the slowest attack (timeouts, retried) needs ~25 s
INTERVAL, TIMEOUT = "2s", "5s"  # of the hostile watches; 2 cores are shared, so generous
STAGGER = 2.0  # seconds between the control release's two platforms
