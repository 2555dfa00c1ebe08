"""Push events: registries and CI jobs say when something was pushed; archlag checks at once.

An event is a hint, the registry is the truth: an accepted event schedules an immediate check of
the named tag (or of the repository, for a manifest pushed by digest) through the poller's own
code path, coalesced, and polling goes on as the safety net. A platform that check finds new
takes the event's push time as its first-seen time when that is plausible (see
:meth:`archlag.core.publication.Content.first_seen`), with source ``event``.

- :mod:`~archlag.events.payloads`: what each sender's payload says (defensive parsing);
- :mod:`~archlag.events.proof`: how each kind of sender proves the receiver's secret;
- :mod:`~archlag.events.budget`: accepted events per second per receiver;
- :mod:`~archlag.events.dispatch`: which watch an event is for;
- :mod:`~archlag.events.endpoint`: the HTTP routes and their answers.
"""

from archlag.events.dispatch import Dispatcher
from archlag.events.endpoint import event_routes

__all__ = ["Dispatcher", "event_routes"]
