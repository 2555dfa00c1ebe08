"""At most N accepted events per second per receiver: a token bucket (burst N)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class EventBudget:
    """``rate`` events per second, up to ``rate`` at once; :meth:`take` says if one may pass."""

    def __init__(self, rate: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = float(rate)
        self._tokens = float(rate)
        self._clock = clock
        self._at = clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = self._clock()
            self._tokens = min(self._rate, self._tokens + (now - self._at) * self._rate)
            self._at = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True
