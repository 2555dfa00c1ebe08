"""A source read again every ``discovery.interval``: the Docker Engine API, files.

:class:`PolledSource` turns a reading function into a :class:`~archlag.discovery.interface.Source`:
each reading is published whole; :class:`~archlag.discovery.interface.SourceUnavailable` marks
the source down with its message and keeps the last set.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio

from archlag.discovery.interface import Reading, Report, SourceUnavailable
from archlag.discovery.sighting import SourceName


class PolledSource:
    def __init__(
        self, name: SourceName, read: Callable[[], Awaitable[Reading]], interval: float
    ) -> None:
        self.name: SourceName = name
        self._read, self._interval = read, interval

    async def run(self, report: Report) -> None:
        while True:
            try:
                reading = await self._read()
            except SourceUnavailable as exc:
                report.down(str(exc))
            else:
                report.publish(reading)
            await anyio.sleep(self._interval)
