"""Release gating: is every wanted platform of one image tag published yet?

The logic behind ``archlag check`` and ``archlag wait``:

- :mod:`~archlag.gate.report`: what a look found (:class:`Report`), what is wanted
  (:class:`Wanted`), and the :class:`Looker` seam;
- :mod:`~archlag.gate.from_registry`: looking in the registry itself;
- :mod:`~archlag.gate.from_server`: looking through a running archlag (``--server``);
- :mod:`~archlag.gate.waiting`: one look (``check``) or looking until complete (``wait``);
- :mod:`~archlag.gate.output`: the table, the JSON document and the progress line;
- :mod:`~archlag.gate.commands`: arguments, wiring and exit status.
"""

from archlag.gate.from_registry import RegistryLooker, look
from archlag.gate.from_server import ServerLooker
from archlag.gate.report import (
    FROM_FLAGS,
    FROM_RECENT_TAGS,
    FROM_SERVER,
    FROM_WATCH,
    Looker,
    NothingToExpectError,
    Report,
    Timing,
    WaitResult,
    Wanted,
)
from archlag.gate.waiting import TRANSIENT_ERRORS, check, wait

__all__ = [
    "FROM_FLAGS",
    "FROM_RECENT_TAGS",
    "FROM_SERVER",
    "FROM_WATCH",
    "TRANSIENT_ERRORS",
    "Looker",
    "NothingToExpectError",
    "RegistryLooker",
    "Report",
    "ServerLooker",
    "Timing",
    "WaitResult",
    "Wanted",
    "check",
    "look",
    "wait",
]
