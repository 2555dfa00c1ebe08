"""archlag's log lines as a test sees them: the fields of each line of one event."""

from __future__ import annotations

import pytest


def logged(caplog: pytest.LogCaptureFixture, event: str) -> list[dict[str, object]]:
    """The ``key=value`` fields of each log line of ``event``, in order."""
    return [getattr(r, "archlag_fields", {}) for r in caplog.records if r.getMessage() == event]
