"""Release gating: is every wanted platform of one image tag published yet?

The logic behind ``archlag check`` and ``archlag wait``:

- :mod:`~archlag.gate.report`: what a look found (:class:`Report`), what is wanted
  (:class:`Expectation`), and the :class:`Looker` seam;
- :mod:`~archlag.gate.registry`: looking in the registry itself;
- :mod:`~archlag.gate.server`: looking through a running archlag (``--server``);
- :mod:`~archlag.gate.waiting`: one look (``check``) or looking until complete (``wait``);
- :mod:`~archlag.gate.output`: the table, the JSON document and the progress line;
- :mod:`~archlag.gate.cli`: arguments, wiring and exit status.
"""

from archlag.gate.registry import RegistryLooker, look
from archlag.gate.report import (
    FROM_FLAGS,
    FROM_RECENT_TAGS,
    FROM_SERVER,
    FROM_WATCH,
    Expectation,
    Looker,
    NothingToExpectError,
    Report,
    Timing,
    WaitResult,
)
from archlag.gate.server import ServerLooker
from archlag.gate.waiting import TRANSIENT_ERRORS, check, wait

__all__ = [
    "FROM_FLAGS",
    "FROM_RECENT_TAGS",
    "FROM_SERVER",
    "FROM_WATCH",
    "TRANSIENT_ERRORS",
    "Expectation",
    "Looker",
    "NothingToExpectError",
    "RegistryLooker",
    "Report",
    "ServerLooker",
    "Timing",
    "WaitResult",
    "check",
    "look",
    "wait",
]
