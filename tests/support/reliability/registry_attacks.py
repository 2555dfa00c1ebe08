"""Registry attacks, one hostile registry each (repository ``app``, tag ``good``): authentication,
429 back-off and redirects with credentials concern the whole registry. Those that stop
(``heal()``) must then be read again at once.

=========================  ===============================================  =====================
attack                     what the registry does (until healed)            archlag must show
=========================  ===============================================  =====================
realm-ftp                  Bearer ``realm="ftp://..."``                     unreadable, then ok at
                                                                            once (issue 10: 30 s)
realm-broken-ipv6          Bearer ``realm="http://[::1"``                   the same
realm-empty                a Bearer challenge without a realm               the same
realm-other-port           a realm on another port of the host; a Basic     ok, and no credentials
                           password is configured                           sent there (issue 10)
redirect-with-credentials  307 to another origin after Basic auth           ok, no password sent
                                                                            there
token-garbage              a token with a space and a newline               unreadable, counted
token-endless              an endless token answer                          unreadable
token-deep-json            a token answer 60,000 levels deep                unreadable
token-absurd-lifetime      ``expires_in`` of 400 digits                     ok
challenge-flood            20 ``WWW-Authenticate`` values of 4,500 bytes    unauthorized, counted
retry-after-obeyed         429 with ``Retry-After: 2``, twice               ok, nothing sent for
                                                                            2 s after each
retry-after-absurd         429 with ``Retry-After`` of 10^14 s              rate_limited for at
                                                                            most ``max_backoff``
retry-after-garbage        429 with ``Retry-After: soon``                   rate_limited, then ok
ratelimit-garbage          rate-limit headers of garbage on every answer    ok, no rate-limit
                                                                            gauges
ratelimit-reset-far        ``X-RateLimit-Remaining: 0`` until 10^14         ok, backing off at most
                                                                            ``max_backoff``
server-5xx                 503 for everything                               unreachable, then ok
basic-refused              Basic auth that refuses the password             unauthorized
basic-denied-echo          403 for repositories, echoing the password       denied, no password
                                                                            printed anywhere
=========================  ===============================================  =====================
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.support.hostile_answers import answer, deep_json, endless, huge_headers, json_answer
from tests.support.hostile_fronts import (
    AddHeaders,
    BasicAuth,
    BearerAuth,
    Failing,
    RedirectAll,
    Throttle,
    TokenServer,
)
from tests.support.hostile_http import Front, Handler
from tests.support.hostile_registry import HostileRegistry
from tests.support.reliability.common import (
    DENIED,
    OK,
    PASSWORD,
    RATE_LIMITED,
    UNAUTHORIZED,
    UNREACHABLE,
    UNREADABLE,
    USER,
)


@dataclass(frozen=True)
class RegistryAttack:
    """An attack by a whole registry (its own instance); ``helper`` is a second origin
    (a token realm, a redirect target) when the attack needs one."""

    name: str
    front: Callable[[HostileRegistry | None], Front]
    status: str  # archlag_watch_status while attacking
    healed: str | None = OK  # ... once healed (None: the attack never stops)
    credentials: bool = False  # a planted Basic password is configured for this registry
    helper: Callable[[], Front | None] | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    from_start: bool = True  # False: behaves until archlag read it, then armed with the rest


def token_server_broken(
    handler: Handler, tokens: tuple[str, ...] = ()
) -> Callable[[HostileRegistry | None], Front]:
    return lambda _: BearerAuth(server=TokenServer(broken=handler, tokens=set(tokens)))


def realm_elsewhere(helper: HostileRegistry | None) -> Front:
    assert helper is not None
    assert isinstance(helper.front, TokenServer)
    return BearerAuth(server=helper.front, realm=lambda: f"{helper.url}/token")


def redirect_elsewhere(helper: HostileRegistry | None) -> Front:
    assert helper is not None
    return RedirectAll(lambda: helper.url, basic=(USER, PASSWORD))


GARBAGE_RATE_LIMITS = [
    ("ratelimit-limit", "lots;w=forever"),
    ("ratelimit-remaining", "-1;w=-5"),
    ("x-ratelimit-limit", "1e999"),
    ("x-ratelimit-remaining", "NaN"),
    ("x-ratelimit-reset", "9" * 300),
    ("docker-ratelimit-source", "<script>alert(1)</script>"),
]
HUGE_LIFETIME = '{"token": "long-lived-token-1", "expires_in": ' + "9" * 400 + "}"

REGISTRY_ATTACKS = [
    RegistryAttack("realm-ftp", lambda _: BearerAuth("ftp://127.0.0.1/token"), UNREADABLE),
    RegistryAttack("realm-broken-ipv6", lambda _: BearerAuth("http://[::1"), UNREADABLE),
    RegistryAttack("realm-empty", lambda _: BearerAuth(""), UNREADABLE),
    RegistryAttack(
        "realm-other-port",
        realm_elsewhere,
        OK,
        credentials=True,
        helper=TokenServer,
    ),
    RegistryAttack(
        "redirect-with-credentials",
        redirect_elsewhere,
        OK,
        credentials=True,
        helper=lambda: None,
    ),
    RegistryAttack(
        "token-garbage",
        token_server_broken(json_answer(200, {"token": "two words\n"})),
        UNREADABLE,
    ),
    RegistryAttack("token-endless", token_server_broken(endless()), UNREADABLE),
    RegistryAttack("token-deep-json", token_server_broken(deep_json(60_000)), UNREADABLE),
    RegistryAttack(
        "token-absurd-lifetime",
        token_server_broken(answer(200, HUGE_LIFETIME.encode()), ("long-lived-token-1",)),
        OK,
    ),
    RegistryAttack(
        "challenge-flood",
        lambda _: Failing(huge_headers(20, 4500, 401, name="WWW-Authenticate")),
        UNAUTHORIZED,
    ),
    RegistryAttack("retry-after-obeyed", lambda _: Throttle([("Retry-After", "2")], times=2), OK),
    RegistryAttack(
        "retry-after-absurd",
        lambda _: Throttle([("Retry-After", "99999999999999")]),
        RATE_LIMITED,
        settings={"max_backoff": "2s"},
    ),
    RegistryAttack(
        "retry-after-garbage",
        lambda _: Throttle([("Retry-After", "soon"), ("X-Retry-After", "-5")]),
        RATE_LIMITED,
        settings={"max_backoff": "2s"},
    ),
    RegistryAttack("ratelimit-garbage", lambda _: AddHeaders(GARBAGE_RATE_LIMITS), OK),
    RegistryAttack(
        "ratelimit-reset-far",
        lambda _: AddHeaders(
            [
                ("x-ratelimit-limit", "100"),
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "99999999999999"),
            ]
        ),
        OK,
        settings={"max_backoff": "2s"},
    ),
    RegistryAttack("server-5xx", lambda _: Failing(answer(503)), UNREACHABLE),
    RegistryAttack(
        "basic-refused",
        lambda _: BasicAuth(USER, "another-password"),
        UNAUTHORIZED,
        healed=None,
        credentials=True,
    ),
    RegistryAttack(
        "basic-denied-echo",
        lambda _: BasicAuth(USER, PASSWORD, echo=True, deny="app"),
        DENIED,
        healed=None,
        credentials=True,
    ),
]


BUG_REGISTRY_ATTACKS = [
    RegistryAttack(
        "token-404", token_server_broken(answer(404)), UNREADABLE, healed=None, from_start=False
    ),
]
