"""Which watch an event is for, and telling its poller: events are hints, polls the truth."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from archlag.config import Receiver
from archlag.events.payloads import PushEvent


class Announced(Protocol):
    """What a poller offers events (:meth:`archlag.polling.poller.WatchPoller.announce`)."""

    def announce(self, tag: str | None, pushed_at: float | None, receiver: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Delivery:
    accepted: tuple[tuple[Announced, PushEvent], ...]  # events for watched repositories
    ignored: int  # events for repositories archlag does not watch


class Dispatcher:
    """Finds the poller of each event's repository: by (registry, repository), through
    ``lookup`` (the running watches of this process, which a reload may change)."""

    def __init__(self, lookup: Callable[[str, str], Announced | None]) -> None:
        self._lookup = lookup

    @classmethod
    def of(cls, watches: Mapping[tuple[str, str], Announced]) -> Dispatcher:
        """A dispatcher over a fixed set of watches."""
        fixed = dict(watches)
        return cls(lambda registry, repository: fixed.get((registry, repository)))

    def route(self, receiver: Receiver, events: Iterable[PushEvent]) -> Delivery:
        accepted, ignored = [], 0
        for event in events:
            registry = receiver.registry or event.registry
            poller = self._lookup(registry, event.repository) if registry else None
            if poller is None:
                ignored += 1
            else:
                accepted.append((poller, event))
        return Delivery(tuple(accepted), ignored)

    @staticmethod
    def deliver(receiver: Receiver, delivery: Delivery) -> None:
        for poller, event in delivery.accepted:
            poller.announce(event.tag, event.pushed_at, receiver.name)
