r"""Nothing a registry sends can stop archlag: every attack of the hostile-input issue, replayed.

One real ``archlag`` process watches a control repository on the real Debian registry and one
repository per attack on hostile registries (:mod:`tests.support.hostile_registry`), all at
once. The control's staggered release is measured while the attacks run. Each case then asserts
what a user would see: the process alive, ``/-/healthy`` answering, the attacked watch's
``archlag_watch_status``, its other tags still recorded, nothing crashed in the poll loop; at the
end the state is kept across a ``kill -9`` and no planted password is printed anywhere. The
cases' outcomes are waited for together (:meth:`Suite.settle`), so the catalog takes as long as
its slowest attack (a request timing out four times), not as long as all of them.

Repository attacks, on one shared hostile registry (``attack/<name>``). Before an attack is armed
the repository serves tag ``good`` (linux/amd64 + linux/arm64), and for attacks on a tag also
``victim``, soundly; once armed, ``victim`` gets new content (plus linux/arm/v7) and:

=========================  ===============================================  =====================
attack                     what the registry sends                          archlag must show
=========================  ===============================================  =====================
list-endless-body          tag list: an endless chunked body                unreadable (16 MiB
                                                                            read) or unreachable
                                                                            (timed out): hung up
list-endless-unframed      ... endless, without framing (read to close)     the same
list-declared-terabyte     ``Content-Length: 10^12``, then nothing          unreadable, hung up
list-short-body            Content-Length 5000, 17 bytes, close             unreachable
list-long-body             Content-Length 10, a longer body                 unreadable
list-bad-status-line       ``HTTP/1.1 2OO OK``                              unreachable
list-not-http              binary garbage                                   unreachable
list-malformed-header      a header line without a colon                    unreachable
list-huge-headers          300 headers of 1 KiB                             unreachable
list-slowloris             a sound answer, one byte every 0.5 s             unreachable (timeout)
list-silent                accepts, never answers                           unreachable (timeout)
list-reset                 TCP RST at once                                  unreachable
list-reset-mid-body        half a body, then RST                            unreachable
list-not-json              an HTML page                                     unreadable
list-invalid-utf8          bytes that are not UTF-8                         unreadable
list-wrong-types           ``{"tags": {"good": 1}}``                        unreadable
list-deep-json             a body 60,000 levels deep                        unreadable, counted
list-deep-json-404         404 with a body 60,000 levels deep               not_found (issue 10:
                                                                            RecursionError)
list-newline-tag           a listed tag ``"2.0\n"``                         ok, 1 ignored tag
                                                                            (issue 10: poll crash)
list-redos-tag             a 41-character tag meeting ``^(\d+\.?)+$``       ok, 1.0 recorded
                                                                            (issue 10: freeze)
list-endless-pages         same-origin ``Link`` for ever, 1,000 tags each   unreadable at 200,000
                                                                            tags, none recorded
list-endless-empty-pages   same-origin ``Link`` for ever, empty pages       unreadable at 500
                                                                            pages
list-link-loop             ``Link`` to the page itself                      unreadable
list-link-elsewhere        ``Link`` to another origin                       unreadable, nothing
                                                                            asked there
list-link-garbage          an unparsable ``Link``                           unreadable
list-redirect-loop         307 to itself                                    unreadable
list-redirect-elsewhere    307 to another origin (a CDN)                    ok, followed
list-gzip-bomb             256 MiB of zeros as a 256 KiB gzip body          unreadable
list-5xx                   503 for ever                                     unreachable
list-5xx-retry-after-year  503 with ``Retry-After`` of a year               unreachable, polled
                                                                            on at its interval
list-401-no-challenge      401 without ``WWW-Authenticate``                 denied
list-403                   403 ``DENIED``                                   denied
list-odd-content-type      the listing served as ``image/png``              ok
head-bad-digest            ``Docker-Content-Digest: sha256:nothex``         ok, 1 failing tag
head-no-digest             HEAD without ``Docker-Content-Digest``           ok, read by GET
head-with-body             a HEAD answer followed by a forged answer        ok, read
get-digest-mismatch        a body that does not hash to its digest          ok, 1 failing tag
get-endless-body           an endless manifest                              1 failing tag, hung up
get-declared-terabyte      ``Content-Length: 10^12``                        ok, 1 failing tag
get-deep-json              a manifest 60,000 levels deep                    ok, 1 failing tag
get-deep-json-404          404 with a body 60,000 levels deep               ok (the tag is gone)
get-not-json               an HTML page                                     ok, 1 failing tag
get-invalid-utf8           bytes that are not UTF-8                         ok, 1 failing tag
get-wrong-types            ``"mediaType": 5``, ``"digest": []``             ok, 1 failing tag
get-unknown-media-type     a manifest of an unknown type                    ok, counted once
get-nested-too-deep        indexes nested 5 deep                            ok, counted once
get-too-many-children      300 children without a platform                  ok, counted once
get-lying-content-type     an index served as an image manifest             ok, 1 failing tag
get-odd-content-type       a sound index served as ``text/plain``           ok, read by its shape
get-platform-garbage       ``"architecture": "<script>"``                   ok, 1 failing tag
get-10002-platforms        two tags with 10,002 platforms each              ok, 64 kept each; their
                                                                            series and histograms
                                                                            leave with the tags
get-reset-mid-body         half a manifest, then RST                        unreachable, 1 failing
get-slowloris              a manifest, one byte every 0.5 s                 unreachable, 1 failing
blob-endless               a single-image tag's config blob is endless      1 failing tag
blob-mismatch              ... a config blob that does not hash to its      ok, 1 failing tag
                           digest
=========================  ===============================================  =====================

Registry attacks, one hostile registry each (repository ``app``, tag ``good``): authentication,
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

Attacks that found bugs in archlag are watched by the same process and asserted by the
``test_bug_*`` functions at the end, which keep each bug fixed: ``list-redirect-ftp`` (a 307 to
``ftp://`` was taken for an unreachable registry), ``new-tag-unreadable`` (a new tag that fails
every check was invisible), ``get-schema1`` (counted again at every poll), ``token-404`` (a
token server that starts answering 404 emptied the repository; now ``unreadable``, tags kept)
and ``list-rotating-names`` (2,000 fresh names a listing: every name ever listed was kept in
the state for 90 days; now absent names without a record are capped per watch).

Attacks on archlag's own endpoints, configuration and state file are in
``tests/test_reliability_commands.py``; memory under attack in ``tests/test_reliability_memory.py``.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from archlag.listing import MAX_ABSENT_UNRECORDED
from tests.conftest import running_registry
from tests.support.archlag_process import ArchlagProcess, Scrape
from tests.support.hostile_registry import (
    GOOD_PLATFORMS,
    OCI_INDEX,
    OCI_MANIFEST,
    SCHEMA1,
    AddHeaders,
    BasicAuth,
    BearerAuth,
    Connection,
    Failing,
    Front,
    Handler,
    HostileRegistry,
    RedirectAll,
    Repository,
    Request,
    Throttle,
    TokenServer,
    answer,
    declared_length,
    deep_json,
    digest_of,
    endless,
    gzip_bomb,
    hang,
    huge_headers,
    index_body,
    json_answer,
    lying_length,
    pages,
    raw,
    redirect,
    reset,
    status_head,
    trickle,
)
from tests.support.planted import basic_forms, leaks
from tests.support.pusher import Descriptor, Pusher

pytestmark = pytest.mark.integration

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


# -- the catalog --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attack:
    """An attack on one repository of the shared hostile registry; see the module docstring."""

    name: str
    arm: Callable[[Repository, HostileRegistry], None]
    status: str | tuple[str, ...]  # archlag_watch_status once armed (one of these)
    good: bool = True  # tag "good" stays recorded with both platforms
    failing: int = 0  # archlag_watch_failing_tags once armed
    watch: Mapping[str, Any] = field(default_factory=dict)  # the watch's own settings

    from_start: bool = False  # armed before archlag's first poll (then "good" is never read)

    @property
    def statuses(self) -> tuple[str, ...]:
        return (self.status,) if isinstance(self.status, str) else self.status

    @property
    def on_a_tag(self) -> bool:
        """Attacks the tag ``victim``, which archlag read soundly before."""
        return self.name.startswith(("head-", "get-", "blob-"))


def listing(handler: Handler) -> Callable[[Repository, HostileRegistry], None]:
    return lambda repo, _: repo.on_listing(handler)


def bad_tag(handler: Handler, methods: tuple[str, ...] = ("GET",)) -> Callable[..., None]:
    """Tag ``victim`` gets new content, and its ``methods`` are answered by ``handler``."""

    def arm(repo: Repository, _: HostileRegistry) -> None:
        repo.publish("victim", NEW, seed="victim-2")
        repo.attack("victim", handler, methods)

    return arm


def bad_body(media_type: str, body: bytes | object) -> Callable[..., None]:
    """Tag ``victim`` becomes a manifest with this body: right digest, hostile content."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return lambda repo, _: repo.put("victim", media_type, data)


def to_witness(witness: HostileRegistry, repo: Repository) -> Handler:
    mirror = witness.repository(repo.name)
    mirror.tags, mirror.manifests = repo.tags, repo.manifests
    return redirect(lambda request: witness.url + request.path)


def link(value: str | Callable[[HostileRegistry, str], str]) -> Callable[..., None]:
    """The listing carries ``Link: value`` (a function of the witness and the page path)."""

    def arm(repo: Repository, witness: HostileRegistry) -> None:
        path = f"/v2/{repo.name}/tags/list"
        header = value(witness, path) if callable(value) else value
        body = {"name": repo.name, "tags": repo.listed()}
        repo.on_listing(json_answer(200, body, [("Link", header)]))

    return arm


def newline_tag(repo: Repository, _: HostileRegistry) -> None:
    repo.extra_names = ["2.0\n"]


def redos_tag(repo: Repository, _: HostileRegistry) -> None:
    repo.publish(REDOS_TAG)
    repo.publish("1.0")


def nested(repo: Repository, _: HostileRegistry, depth: int = 5) -> None:
    body = index_body(BOTH, "leaf")
    for level in range(depth):
        child = repo.put(f"level-{level}", OCI_INDEX, body)
        repo.remove(f"level-{level}")  # reachable by digest only
        entry = {"mediaType": OCI_INDEX, "digest": child, "size": len(body)}
        document = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]}
        body = json.dumps(document).encode()
    repo.put("victim", OCI_INDEX, body)


def many_children(repo: Repository, _: HostileRegistry, count: int = 300) -> None:
    entries = []
    for i in range(count):
        repo.publish_image(f"child-{i}", "linux/amd64", seed=str(i))  # one platform: all read
        digest = repo.tags[f"child-{i}"]
        entries.append({"mediaType": OCI_MANIFEST, "digest": digest, "size": 300})
        repo.remove(f"child-{i}")
    document = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
    repo.put("victim", OCI_INDEX, json.dumps(document).encode())


WIDE = [*BOTH, *(f"linux/wide{i}" for i in range(10_000))]


def wide(repo: Repository, _: HostileRegistry) -> None:
    for tag in ("wide1", "wide2"):
        repo.publish(tag, WIDE, seed=tag)


def image_with_blob(handler: Handler) -> Callable[..., None]:
    def arm(repo: Repository, _: HostileRegistry) -> None:
        repo.publish_image("victim", "linux/arm64")
        config = json.loads(repo.manifests[repo.tags["victim"]][1])["config"]["digest"]
        repo.attack(config, handler)

    return arm


def head_with_body(repo: Repository, _: HostileRegistry) -> None:
    digest = repo.publish("victim", NEW, seed="victim-2")
    forged = status_head(200, [("Content-Length", "0")]) + b"\r\n"
    head = status_head(
        200,
        [("Content-Type", OCI_INDEX), ("Docker-Content-Digest", digest), ("Content-Length", "2")],
    )
    repo.attack("victim", raw(head + b"\r\n" + forged), ("HEAD",))


SOUND_LISTING = b'{"name":"x","tags":["good"]}'
SOUND = status_head(200, [("Content-Length", str(len(SOUND_LISTING)))]) + b"\r\n" + SOUND_LISTING
YEAR = str(365 * 86400)
# An endless body is refused at its size limit or, on a loaded machine, times out first.
ENDLESS = (UNREADABLE, UNREACHABLE)
# Hundreds of requests per poll: armed from the start, polled every 30 s ("good" never read).
FROM_START: dict[str, Any] = {"good": False, "watch": {"interval": "30s"}, "from_start": True}

ATTACKS = [
    Attack("list-endless-body", listing(endless()), ENDLESS),
    Attack("list-endless-unframed", listing(endless(chunked=False)), ENDLESS),
    Attack("list-declared-terabyte", listing(declared_length(10**12)), UNREADABLE),
    Attack("list-short-body", listing(lying_length(5000, b'{"tags":["good"]}')), UNREACHABLE),
    Attack("list-long-body", listing(lying_length(10, SOUND_LISTING)), UNREADABLE),
    Attack("list-bad-status-line", listing(raw(b"HTTP/1.1 2OO OK\r\n\r\n{}")), UNREACHABLE),
    Attack("list-not-http", listing(raw(bytes(range(256)) * 8)), UNREACHABLE),
    Attack(
        "list-malformed-header",
        listing(raw(b"HTTP/1.1 200 OK\r\nContent-Type application/json\r\n\r\n{}")),
        UNREACHABLE,
    ),
    Attack("list-huge-headers", listing(huge_headers(300, 1024)), UNREACHABLE),
    Attack("list-slowloris", listing(trickle(SOUND, 0.5)), UNREACHABLE),
    Attack("list-silent", listing(hang()), UNREACHABLE),
    Attack("list-reset", listing(reset()), UNREACHABLE),
    Attack("list-reset-mid-body", listing(reset(SOUND[:-12])), UNREACHABLE),
    Attack("list-not-json", listing(answer(200, b"<html>hello</html>")), UNREADABLE),
    Attack("list-invalid-utf8", listing(answer(200, b'{"tags":["\xff\xfe"]}')), UNREADABLE),
    Attack("list-wrong-types", listing(json_answer(200, {"tags": {"good": 1}})), UNREADABLE),
    Attack("list-deep-json", listing(deep_json(60_000)), UNREADABLE),
    Attack("list-deep-json-404", listing(deep_json(60_000, 404)), NOT_FOUND, good=False),
    Attack("list-newline-tag", newline_tag, OK),
    Attack(
        "list-redos-tag",
        redos_tag,
        OK,
        watch={"tags": {"include": [r"^(\d+\.?)+$", "^good$"]}},
    ),
    Attack("list-endless-pages", listing(pages(1000)), UNREADABLE, **FROM_START),
    Attack("list-endless-empty-pages", listing(pages(0)), UNREADABLE, **FROM_START),
    Attack("list-link-loop", link(lambda _, path: f'<{path}?n=1000>; rel="next"'), UNREADABLE),
    Attack(
        "list-link-elsewhere",
        link(lambda witness, path: f'<{witness.url}{path}?last=x>; rel="next"'),
        UNREADABLE,
    ),
    Attack("list-link-garbage", link('garbage; rel="next"'), UNREADABLE),
    Attack("list-redirect-loop", listing(redirect(lambda request: request.path)), UNREADABLE),
    Attack(
        "list-redirect-elsewhere",
        lambda repo, witness: repo.on_listing(to_witness(witness, repo)),
        OK,
    ),
    Attack("list-gzip-bomb", listing(gzip_bomb(256 << 20)), UNREADABLE),
    Attack("list-5xx", listing(answer(503)), UNREACHABLE),
    Attack(
        "list-5xx-retry-after-year",
        listing(answer(503, b"", [("Retry-After", YEAR)])),
        UNREACHABLE,
    ),
    Attack("list-401-no-challenge", listing(answer(401)), DENIED),
    Attack(
        "list-403",
        listing(answer(403, b'{"errors":[{"code":"DENIED","message":"no"}]}')),
        DENIED,
    ),
    Attack(
        "list-odd-content-type",
        lambda repo, _: repo.on_listing(
            answer(
                200,
                SOUND_LISTING.replace(b"x", repo.name.encode()),
                [("Content-Type", "image/png")],
            )
        ),
        OK,
    ),
    Attack(
        "head-bad-digest",
        bad_tag(answer(200, b"", [("Docker-Content-Digest", "sha256:nothex")]), ("HEAD",)),
        OK,
        failing=1,
    ),
    Attack(
        "head-no-digest",
        bad_tag(answer(200, b"", [("Content-Type", OCI_INDEX)]), ("HEAD",)),
        OK,
    ),
    Attack("head-with-body", head_with_body, OK),
    Attack("get-digest-mismatch", bad_tag(answer(200, index_body(BOTH, "x"))), OK, failing=1),
    Attack("get-endless-body", bad_tag(endless(b"[")), (OK, UNREACHABLE), failing=1),
    Attack("get-declared-terabyte", bad_tag(declared_length(10**12)), OK, failing=1),
    Attack("get-deep-json", bad_body(OCI_INDEX, b"[" * 60_000 + b"]" * 60_000), OK, failing=1),
    Attack("get-deep-json-404", bad_tag(deep_json(60_000, 404)), OK),
    Attack("get-not-json", bad_body(OCI_INDEX, b"<html>hello</html>"), OK, failing=1),
    Attack("get-invalid-utf8", bad_body(OCI_INDEX, b'{"manifests":"\xff"}'), OK, failing=1),
    Attack(
        "get-wrong-types",
        bad_body(OCI_INDEX, {"manifests": [{"mediaType": 5, "digest": []}]}),
        OK,
        failing=1,
    ),
    Attack(
        "get-unknown-media-type",
        bad_body("application/vnd.example.thing+json", {"schemaVersion": 2}),
        OK,
    ),
    Attack("get-nested-too-deep", nested, OK),
    Attack("get-too-many-children", many_children, OK),
    Attack(
        "get-lying-content-type",
        bad_body(OCI_MANIFEST, json.loads(index_body(BOTH, "lying"))),
        OK,
        failing=1,
    ),
    Attack(
        "get-odd-content-type",
        bad_body(
            "text/plain",
            {"schemaVersion": 2, "manifests": json.loads(index_body(NEW))["manifests"]},
        ),
        OK,
    ),
    Attack(
        "get-platform-garbage",
        bad_body(
            OCI_INDEX,
            {
                "manifests": [
                    {
                        "mediaType": OCI_MANIFEST,
                        "digest": digest_of(b"x"),
                        "size": 1,
                        "platform": {"os": "linux", "architecture": "<script>"},
                    }
                ]
            },
        ),
        OK,
        failing=1,
    ),
    Attack("get-10002-platforms", wide, OK),
    Attack(
        "get-reset-mid-body",
        bad_tag(reset(status_head(200, [("Content-Length", "400")]) + b"\r\n{")),
        UNREACHABLE,
        failing=1,
    ),
    Attack("get-slowloris", bad_tag(trickle(SOUND, 0.5)), UNREACHABLE, failing=1),
    Attack("blob-endless", image_with_blob(endless()), (OK, UNREACHABLE), failing=1),
    Attack("blob-mismatch", image_with_blob(answer(200, b'{"os":"linux"}')), OK, failing=1),
]


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


ROTATING = 2000  # fresh names in every listing of list-rotating-names


def rotating_names(repo: Repository, _: HostileRegistry) -> None:
    """Every listing names ``good`` and ROTATING tags it never named before."""
    listings = iter(range(1, 1 << 30))

    async def handler(request: Request, conn: Connection) -> None:
        number = next(listings)
        names = [*repo.listed(), *(f"r{number}-{i}" for i in range(ROTATING))]
        await json_answer(200, {"name": repo.name, "tags": names})(request, conn)

    repo.on_listing(handler)


def new_unreadable_tag(repo: Repository, _: HostileRegistry) -> None:
    repo.publish("bad", seed="bad")
    repo.attack("bad", answer(200, index_body(BOTH, "not what HEAD said")), ("GET",))


# Attacks that found bugs in archlag (src/): watched by the same process as the others, and
# asserted by the test_bug_* functions at the end, so that they fail on their own.
BUG_ATTACKS = [
    Attack("list-redirect-ftp", listing(redirect("ftp://127.0.0.1/v2/x/tags/list")), UNREADABLE),
    Attack("new-tag-unreadable", new_unreadable_tag, OK, failing=1),
    Attack("get-schema1", bad_body(SCHEMA1, {"schemaVersion": 1, "name": "x", "tag": "x"}), OK),
    Attack("list-rotating-names", rotating_names, OK),
]
BUG_REGISTRY_ATTACKS = [
    RegistryAttack(
        "token-404", token_server_broken(answer(404)), UNREADABLE, healed=None, from_start=False
    ),
]
EVERY_ATTACK = [*ATTACKS, *BUG_ATTACKS]
EVERY_REGISTRY_ATTACK = [*REGISTRY_ATTACKS, *BUG_REGISTRY_ATTACKS]


# -- the suite: one archlag, every attack at once -----------------------------------------------


def status_of(scrape: Scrape, registry: str, repository: str) -> str | None:
    series = scrape.series("archlag_watch_status", registry=registry, repository=repository)
    return next((dict(labels)["status"] for labels, v in series.items() if v == 1), None)


def platforms_of(scrape: Scrape, registry: str, repository: str, tag: str) -> dict[str, float]:
    series = scrape.series(
        "archlag_tag_platform_available", registry=registry, repository=repository, tag=tag
    )
    return {dict(labels)["platform"]: value for labels, value in series.items()}


def failing_tags(scrape: Scrape, registry: str, repository: str) -> float | None:
    return scrape.value("archlag_watch_failing_tags", registry=registry, repository=repository)


def forgotten_names(scrape: Scrape, registry: str, repository: str) -> float:
    name = "archlag_watch_forgotten_names_total"
    return scrape.value(name, registry=registry, repository=repository) or 0.0


def first_seen(scrape: Scrape) -> dict[frozenset[tuple[str, str]], float]:
    return scrape.series("archlag_tag_platform_first_seen_timestamp_seconds")


def limit_hits(scrape: Scrape, registry: str, limit: str) -> float:
    value = scrape.value("archlag_registry_limits_hit_total", registry=registry, limit=limit)
    return value or 0.0


Condition = Callable[[Scrape], bool]


@dataclass
class Suite:
    archlag: ArchlagProcess
    control: str  # the real registry's host
    pusher: Pusher
    shared: HostileRegistry
    witness: HostileRegistry
    instances: dict[str, HostileRegistry]
    helpers: dict[str, HostileRegistry]
    workdir: Path
    control_first_seen: dict[frozenset[tuple[str, str]], float] = field(default_factory=dict)
    released: Scrape | None = None  # the scrape that showed the control release complete
    armed_at: float = 0.0  # when the repository attacks were armed (unix time)
    _latest: tuple[float, Scrape] | None = None

    def scrape(self) -> Scrape:
        """/metrics without histogram buckets (the cases read counts and sums): parsing all
        9,000 lines takes half a second of the CPU the attacks share."""
        response = httpx.get(f"{self.archlag.url}/metrics", timeout=10)
        response.raise_for_status()
        lines = response.text.splitlines(keepends=True)
        scrape = Scrape("".join(line for line in lines if "_bucket{" not in line))
        scrape.text = response.text
        self._latest = (time.monotonic(), scrape)
        return scrape

    def recent(self) -> Scrape:
        """A scrape at most two seconds old."""
        if self._latest is not None and time.monotonic() - self._latest[0] < 2.0:
            return self._latest[1]
        return self.scrape()

    def wait_for(self, condition: Condition, what: str) -> Scrape:
        """Scrape every second until ``condition`` holds (at most :data:`WAIT` s)."""
        found = self.settle({what: condition})[what]
        if found is None:
            raise AssertionError(f"timed out waiting for {what}")
        return found

    def settle(self, conditions: Mapping[str, Condition]) -> dict[str, Scrape | None]:
        """The first scrape at which each condition held, polling them all together until every
        one did or :data:`WAIT` passed (None for those that never held): the cases of the
        catalog take as long as the slowest, not as long as all of them."""
        pending, found = dict(conditions), {}
        deadline = time.monotonic() + WAIT
        while pending:
            scrape = self.scrape()
            for name, condition in list(pending.items()):
                if condition(scrape):
                    del pending[name]
                    found[name] = scrape
            if not pending or time.monotonic() > deadline:
                break
            time.sleep(1.0)
        return {**dict.fromkeys(pending), **found}

    def since_armed(self, registry: HostileRegistry, path: str, method: str | None = None) -> int:
        """Requests for ``path`` that ``registry`` answered since the attacks were armed."""
        return sum(r.at > self.armed_at for r in registry.requests(path, method))

    def assert_unharmed(self, repository: str) -> None:
        """What every case asserts: alive, healthy, the control measured, no crash logged."""
        assert self.archlag.process is not None
        assert self.archlag.process.poll() is None, "archlag is alive"
        assert httpx.get(f"{self.archlag.url}/-/healthy", timeout=5).status_code == 200
        scrape = self.recent()
        assert status_of(scrape, self.control, CONTROL) == OK
        control = scrape.series(
            "archlag_tag_platform_first_seen_timestamp_seconds", registry=self.control
        )
        assert self.control_first_seen.items() <= control.items(), "control first-seen kept"
        log = self.archlag.log_path.read_text(errors="replace")
        crashes = [
            line
            for line in log.splitlines()
            if "_crashed" in line and f"repository={repository}" in line
        ]
        assert not crashes, crashes[:1]


def publish(pusher: Pusher, tag: str, *platforms: str) -> list[Descriptor]:
    images = [pusher.push_image(CONTROL, p, seed=tag) for p in platforms]
    pusher.push_index(CONTROL, tag, images)
    return images


def make_config(suite: Suite, password_file: Path) -> dict[str, Any]:
    registries: dict[str, dict[str, Any]] = {
        suite.control: {"insecure": True},
        suite.shared.host: {"insecure": True, "timeout": TIMEOUT, "concurrency": 64},
    }
    watches: list[dict[str, Any]] = [
        {"image": f"{suite.control}/{CONTROL}", "interval": "300ms", "platforms": BOTH}
    ]
    watches += [
        {"image": f"{suite.shared.host}/attack/{a.name}", "interval": INTERVAL, **a.watch}
        for a in EVERY_ATTACK
    ]
    for attack in EVERY_REGISTRY_ATTACK:
        host = suite.instances[attack.name].host
        settings: dict[str, Any] = {"insecure": True, "timeout": TIMEOUT, **attack.settings}
        if attack.credentials:
            settings |= {"username": USER, "password_file": str(password_file)}
        registries[host] = settings
        watches.append({"image": f"{host}/app", "interval": INTERVAL})
    return {
        "state_file": str(suite.workdir / "state.db"),
        "defaults": {"stall_after": "1h", "settled_interval": "1s"},
        "registries": registries,
        "watches": watches,
    }


def start_hostile(stack: contextlib.ExitStack, front: Front | None = None) -> HostileRegistry:
    registry = stack.enter_context(HostileRegistry(front=front))
    registry.repository("app").publish("good")
    return registry


def prepare(stack: contextlib.ExitStack, workdir: Path) -> Suite:
    """Every registry started and filled, archlag configured (not started)."""
    control = stack.enter_context(running_registry(workdir / "registry"))
    pusher = stack.enter_context(Pusher(control.url))
    publish(pusher, "1.0", *BOTH)
    shared = stack.enter_context(HostileRegistry())
    witness = stack.enter_context(HostileRegistry())
    for attack in EVERY_ATTACK:
        repository = shared.repository(f"attack/{attack.name}")
        repository.publish("good")
        if attack.on_a_tag:
            repository.publish("victim")
        if attack.from_start:
            attack.arm(repository, witness)
    instances, helpers = {}, {}
    for each in EVERY_REGISTRY_ATTACK:
        helper = None
        if each.helper is not None:
            helper = helpers[each.name] = start_hostile(stack, each.helper())
        instances[each.name] = start_hostile(stack, each.front(helper))
        front = instances[each.name].front
        if not each.from_start and front is not None:
            front.heal()  # until arm_all
    password_file = workdir / "password"
    password_file.write_text(PASSWORD + "\n")
    archlag = ArchlagProcess(workdir, {})
    suite = Suite(archlag, control.host, pusher, shared, witness, instances, helpers, workdir)
    archlag.config_path.write_text(json.dumps(make_config(suite, password_file)))
    stack.callback(archlag.stop)
    return suite


def arm_all(suite: Suite) -> None:
    """Once every watch has read its repository soundly, turn every repository attack on."""
    suite.wait_for(
        lambda s: (
            all(
                platforms_of(s, suite.shared.host, f"attack/{a.name}", tag) == PRESENT
                for a in EVERY_ATTACK
                if not a.from_start
                for tag in ("good", "victim")[: 1 + a.on_a_tag]
            )
            and all(
                platforms_of(s, suite.instances[a.name].host, "app", "good") == PRESENT
                for a in EVERY_REGISTRY_ATTACK
                if not a.from_start
            )
            and platforms_of(s, suite.control, CONTROL, "1.0") == PRESENT
        ),
        "every watch polled once, unharmed",
    )
    suite.control_first_seen = suite.scrape().series(
        "archlag_tag_platform_first_seen_timestamp_seconds", registry=suite.control
    )
    suite.armed_at = time.time()
    for attack in EVERY_ATTACK:
        if not attack.from_start:
            attack.arm(suite.shared.repository(f"attack/{attack.name}"), suite.witness)
    for each in EVERY_REGISTRY_ATTACK:
        front = suite.instances[each.name].front
        if not each.from_start and front is not None:
            front.arm()


def release_control(suite: Suite) -> Scrape:
    """Publish control 2.0 as amd64, and arm64 STAGGER seconds after archlag saw amd64."""
    amd = publish(suite.pusher, "2.0", "linux/amd64")
    suite.wait_for(
        lambda s: platforms_of(s, suite.control, CONTROL, "2.0").get("linux/amd64") == 1,
        "control 2.0 amd64 seen",
    )
    time.sleep(STAGGER)
    arm = suite.pusher.push_image(CONTROL, "linux/arm64", seed="2.0")
    suite.pusher.push_index(CONTROL, "2.0", [*amd, arm])
    return suite.wait_for(
        lambda s: (
            s.value("archlag_tag_complete", registry=suite.control, repository=CONTROL, tag="2.0")
            == 1
        ),
        "control 2.0 complete",
    )


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    with contextlib.ExitStack() as stack:
        suite = prepare(stack, tmp_path_factory.mktemp("reliability"))
        suite.archlag.start()
        arm_all(suite)
        suite.released = release_control(suite)
        yield suite


# -- what each case must show, as conditions polled together, then assertions ------------------

F = TypeVar("F")


def registrar(table: dict[str, F]) -> Callable[..., Callable[[F], F]]:
    """A decorator ``@name("case", ...)`` that files a function under those cases in ``table``."""

    def named(*cases: str) -> Callable[[F], F]:
        def register(function: F) -> F:
            table.update(dict.fromkeys(cases, function))
            return function

        return register

    return named


Until = Callable[[Suite, Scrape, str], bool]  # (suite, scrape, repository): has it developed?
Check = Callable[[Suite, Scrape, str], None]  # assertions on the scrape where it had
UNTIL: dict[str, Until] = {}
CHECKS: dict[str, Check] = {}
until, check = registrar(UNTIL), registrar(CHECKS)


def outcome(suite: Suite, attack: Attack) -> Condition:
    """The attack's expected outcome, as a condition on a scrape."""
    host, repository = suite.shared.host, f"attack/{attack.name}"
    developed: Until = UNTIL.get(attack.name, lambda *_: True)
    return lambda s: (
        status_of(s, host, repository) in attack.statuses
        and failing_tags(s, host, repository) == attack.failing
        and (not attack.good or platforms_of(s, host, repository, "good") == PRESENT)
        and developed(suite, s, repository)
    )


@until("list-redos-tag")
def _version_tag_recorded(suite: Suite, scrape: Scrape, repository: str) -> bool:
    return platforms_of(scrape, suite.shared.host, repository, "1.0") == PRESENT


@until("head-no-digest", "head-with-body", "get-odd-content-type")
def _new_content_read(suite: Suite, scrape: Scrape, repository: str) -> bool:
    victim = platforms_of(scrape, suite.shared.host, repository, "victim")
    return victim.get("linux/arm/v7") == 1


def unsupported_count(suite: Suite, scrape: Scrape, repository: str) -> float:
    reason = {
        "get-schema1": "schema1",
        "get-unknown-media-type": "unknown_media_type",
        "get-nested-too-deep": "nested_too_deep",
        "get-too-many-children": "too_many_children",
    }[repository.removeprefix("attack/")]
    value = scrape.value(
        "archlag_repository_unsupported_manifests_total",
        registry=suite.shared.host,
        repository=repository,
        reason=reason,
    )
    return value or 0.0


@until("get-schema1", "get-unknown-media-type", "get-nested-too-deep", "get-too-many-children")
def _refused_and_checked_again(suite: Suite, scrape: Scrape, repository: str) -> bool:
    checked = suite.since_armed(suite.shared, f"/v2/{repository}/manifests/victim", "HEAD")
    return unsupported_count(suite, scrape, repository) >= 1 and checked >= 2


@check("get-schema1", "get-unknown-media-type", "get-nested-too-deep", "get-too-many-children")
def _counted_once(suite: Suite, scrape: Scrape, repository: str) -> None:
    assert unsupported_count(suite, scrape, repository) == 1, "one manifest, counted once"


@until("list-5xx-retry-after-year")
def _polled_on(suite: Suite, scrape: Scrape, repository: str) -> bool:
    return suite.since_armed(suite.shared, f"/v2/{repository}/tags/list") >= 3


@until("get-10002-platforms")
def _wide_tags_read(suite: Suite, scrape: Scrape, repository: str) -> bool:
    host = suite.shared.host
    return all(len(platforms_of(scrape, host, repository, t)) == 64 for t in ("wide1", "wide2"))


@check("get-10002-platforms")
def _platforms_capped(suite: Suite, scrape: Scrape, repository: str) -> None:
    host = suite.shared.host
    assert limit_hits(scrape, host, "platforms_per_index") > 0
    delays = scrape.series(
        "archlag_platform_publication_delay_seconds_count", registry=host, repository=repository
    )
    assert len(delays) == 64, "one delay histogram per platform kept"


@check("list-endless-body", "list-endless-unframed", "get-endless-body", "blob-endless")
def _hangs_up_early(suite: Suite, scrape: Scrape, repository: str) -> None:
    answers = [s for s in suite.shared.served(f"/v2/{repository}/") if s.sent > 1 << 20]
    assert answers, "the endless body was served"
    assert all(s.sent < 64 << 20 for s in answers), "archlag stopped reading early"


@check("list-declared-terabyte", "get-declared-terabyte")
def _refused_from_the_header(suite: Suite, scrape: Scrape, repository: str) -> None:
    lingering = [s for s in suite.shared.served(f"/v2/{repository}/") if s.client_gone]
    assert lingering, "archlag hung up instead of waiting for 10^12 bytes"


@check("list-newline-tag")
def _newline_tag_ignored(suite: Suite, scrape: Scrape, repository: str) -> None:
    ignored = scrape.value(
        "archlag_watch_ignored_tags", registry=suite.shared.host, repository=repository
    )
    assert ignored == 1


@check("list-redos-tag")
def _redos_tag_not_matched(suite: Suite, scrape: Scrape, repository: str) -> None:
    assert not platforms_of(scrape, suite.shared.host, repository, REDOS_TAG)


@check("list-endless-pages", "list-endless-empty-pages")
def _endless_pages_fail_the_poll(suite: Suite, scrape: Scrape, repository: str) -> None:
    cap = "tags_per_listing" if repository.endswith("list-endless-pages") else "tag_pages"
    assert limit_hits(scrape, suite.shared.host, cap) > 0
    path = f"file:{suite.workdir}/state.db?mode=ro"
    with contextlib.closing(sqlite3.connect(path, uri=True)) as db:
        query = "SELECT count(*) FROM listed_tags WHERE repository = ?"
        rows = db.execute(query, (repository,)).fetchone()[0]
    assert rows == 0, "nothing of the endless listing was recorded"


@check("list-link-elsewhere")
def _foreign_link_not_followed(suite: Suite, scrape: Scrape, repository: str) -> None:
    assert limit_hits(scrape, suite.shared.host, "bad_url") > 0
    assert not suite.witness.requests(f"/v2/{repository}/"), "the other origin was not asked"


@check("list-redirect-elsewhere")
def _redirect_followed(suite: Suite, scrape: Scrape, repository: str) -> None:
    assert suite.witness.requests(f"/v2/{repository}/tags/list"), "the CDN was asked"


@check("list-deep-json", "get-deep-json")
def _deep_json_counted(suite: Suite, scrape: Scrape, repository: str) -> None:
    assert limit_hits(scrape, suite.shared.host, "json_too_deep") > 0


# -- registry attacks: conditions and checks ----------------------------------------------------

RegistryUntil = Callable[[Suite, Scrape, HostileRegistry], bool]
RegistryCheck = Callable[[Suite, Scrape, HostileRegistry], None]
REGISTRY_UNTIL: dict[str, RegistryUntil] = {}
REGISTRY_CHECKS: dict[str, RegistryCheck] = {}
registry_until, registry_check = registrar(REGISTRY_UNTIL), registrar(REGISTRY_CHECKS)


def registry_outcome(suite: Suite, attack: RegistryAttack) -> Condition:
    registry = suite.instances[attack.name]
    developed: RegistryUntil = REGISTRY_UNTIL.get(attack.name, lambda *_: True)
    return lambda s: (
        status_of(s, registry.host, "app") == attack.status
        and (attack.status != OK or platforms_of(s, registry.host, "app", "good") == PRESENT)
        and developed(suite, s, registry)
    )


@registry_until("retry-after-absurd", "retry-after-garbage")
def _asked_again(suite: Suite, scrape: Scrape, registry: HostileRegistry) -> bool:
    return len(registry.requests()) >= 6


@registry_until("ratelimit-reset-far")
def _polled_slowly(suite: Suite, scrape: Scrape, registry: HostileRegistry) -> bool:
    """No quota left: archlag polls 16x less often (README), once every 32 s here."""
    return len(registry.requests()) >= 2


@registry_until("retry-after-obeyed")
def _throttled_twice(suite: Suite, scrape: Scrape, registry: HostileRegistry) -> bool:
    return isinstance(registry.front, Throttle) and len(registry.front.throttled) == 2


@registry_check("realm-ftp", "realm-broken-ipv6")
def _bad_realm_counted(suite: Suite, scrape: Scrape, registry: HostileRegistry) -> None:
    assert limit_hits(scrape, registry.host, "bad_url") > 0


@registry_check("realm-empty", "challenge-flood")
def _bad_challenge_counted(suite: Suite, scrape: Scrape, registry: HostileRegistry) -> None:
    assert limit_hits(scrape, registry.host, "bad_header") > 0


@registry_check("token-garbage")
def _garbage_token_counted(suite: Suite, scrape: Scrape, registry: HostileRegistry) -> None:
    assert limit_hits(scrape, registry.host, "bad_token") > 0


@registry_check("realm-other-port", "redirect-with-credentials")
def _no_credentials_elsewhere(suite: Suite, scrape: Scrape, registry: HostileRegistry) -> None:
    name = next(n for n, r in suite.instances.items() if r is registry)
    elsewhere = suite.helpers[name].requests()
    assert elsewhere, "the other origin was asked"
    assert not [r for r in elsewhere if "authorization" in r.headers], "and given no credentials"
    if name == "redirect-with-credentials":
        assert any("authorization" in r.headers for r in registry.requests()), "Basic was used"


@registry_check("retry-after-obeyed")
def _retry_after_obeyed(suite: Suite, scrape: Scrape, registry: HostileRegistry) -> None:
    assert isinstance(registry.front, Throttle)
    for throttled in registry.front.throttled:
        later = [r.at for r in registry.requests() if r.at > throttled]
        assert later, "asked again"
        assert min(later) - throttled >= 2.0, "nothing was sent for the 2 s asked"


@registry_check("retry-after-absurd", "ratelimit-reset-far")
def _backoff_clamped(suite: Suite, scrape: Scrape, registry: HostileRegistry) -> None:
    until = scrape.value("archlag_registry_backoff_until_timestamp_seconds", registry=registry.host)
    assert until is not None
    assert until - time.time() <= 3.0, "max_backoff (2s) at most, not 10^14 s"


@registry_check("ratelimit-garbage")
def _garbage_ignored(suite: Suite, scrape: Scrape, registry: HostileRegistry) -> None:
    for name in ("limit", "remaining", "window_seconds"):
        assert scrape.value(f"archlag_registry_ratelimit_{name}", registry=registry.host) is None


@registry_check("server-5xx", "challenge-flood", "basic-refused")
def _registry_down(suite: Suite, scrape: Scrape, registry: HostileRegistry) -> None:
    assert scrape.value("archlag_registry_up", registry=registry.host) == 0


# -- bug conditions: the situation has developed (the bug tests then assert) -------------------


def bug_conditions(suite: Suite) -> dict[str, Condition]:
    host = suite.shared.host
    token_404 = suite.instances["token-404"]
    return {
        "list-redirect-ftp": lambda s: status_of(s, host, "attack/list-redirect-ftp") != OK,
        "new-tag-unreadable": lambda s: (
            suite.since_armed(suite.shared, "/v2/attack/new-tag-unreadable/manifests/", "GET") >= 2
            and failing_tags(s, host, "attack/new-tag-unreadable") == 1
        ),
        "get-schema1": lambda s: _refused_and_checked_again(suite, s, "attack/get-schema1"),
        "token-404": lambda _: suite.since_armed(token_404, "/token") >= 3,
        "list-rotating-names": lambda s: (
            suite.since_armed(suite.shared, "/v2/attack/list-rotating-names/tags/list") >= 5
            and forgotten_names(s, host, "attack/list-rotating-names") >= ROTATING
        ),
    }


@pytest.fixture(scope="module")
def outcomes(suite: Suite) -> dict[str, Scrape | None]:
    """Every case's outcome, waited for together, while the attacks run."""
    conditions = {f"repository:{a.name}": outcome(suite, a) for a in ATTACKS}
    conditions |= {f"registry:{a.name}": registry_outcome(suite, a) for a in REGISTRY_ATTACKS}
    conditions |= {f"bug:{name}": c for name, c in bug_conditions(suite).items()}
    return suite.settle(conditions)


HEALING = [a for a in REGISTRY_ATTACKS if a.healed is not None]


@pytest.fixture(scope="module")
def healed(suite: Suite, outcomes: dict[str, Scrape | None]) -> dict[str, Scrape | None]:
    """Every registry attack stopped at once; then each registry's recovery, waited together."""
    for attack in HEALING:
        front = suite.instances[attack.name].front
        assert front is not None
        front.heal()

    def recovered(attack: RegistryAttack) -> Condition:
        host = suite.instances[attack.name].host
        return lambda s: (
            status_of(s, host, "app") == attack.healed
            and platforms_of(s, host, "app", "good") == PRESENT
            and s.value("archlag_registry_up", registry=host) == 1
        )

    return suite.settle({a.name: recovered(a) for a in HEALING})


# -- the cases ----------------------------------------------------------------------------------


def test_the_control_release_is_measured_while_every_attack_runs(suite: Suite) -> None:
    scrape = suite.released
    assert scrape is not None
    labels = {"registry": suite.control, "repository": CONTROL}
    assert scrape.value("archlag_tag_publication_spread_seconds_count", **labels) == 1
    spread = scrape.value("archlag_tag_publication_spread_seconds_sum", **labels)
    seen = {
        platform: scrape.value(
            "archlag_tag_platform_first_seen_timestamp_seconds",
            **labels,
            tag="2.0",
            platform=platform,
        )
        for platform in BOTH
    }
    assert seen["linux/arm64"] is not None
    assert seen["linux/amd64"] is not None
    assert spread == pytest.approx(seen["linux/arm64"] - seen["linux/amd64"])
    assert spread is not None
    assert spread >= STAGGER, "arm64 came at least STAGGER s after amd64 was seen"
    assert scrape.value("archlag_registry_up", registry=suite.control) == 1


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.name)
def test_a_hostile_repository_harms_only_itself(
    suite: Suite, outcomes: dict[str, Scrape | None], attack: Attack
) -> None:
    host, repository = suite.shared.host, f"attack/{attack.name}"
    scrape = outcomes[f"repository:{attack.name}"] or suite.recent()
    assert status_of(scrape, host, repository) in attack.statuses
    assert failing_tags(scrape, host, repository) == attack.failing
    if attack.good:
        assert platforms_of(scrape, host, repository, "good") == PRESENT, "other tags kept"
    if attack.name in UNTIL:
        assert UNTIL[attack.name](suite, scrape, repository), "the attack developed"
    if attack.name in CHECKS:
        CHECKS[attack.name](suite, scrape, repository)
    suite.assert_unharmed(repository)


def test_series_of_tags_with_capped_platforms_leave_metrics_with_them(
    suite: Suite, outcomes: dict[str, Scrape | None]
) -> None:
    host, repository = suite.shared.host, "attack/get-10002-platforms"
    for tag in ("wide1", "wide2"):
        suite.shared.repository(repository).remove(tag)
    scrape = suite.wait_for(
        lambda s: not any(platforms_of(s, host, repository, t) for t in ("wide1", "wide2")),
        "the wide tags left the view",
    )
    delays = scrape.series(
        "archlag_platform_publication_delay_seconds_count", registry=host, repository=repository
    )
    assert {dict(labels)["platform"] for labels in delays} == set(BOTH), "their histograms left"
    assert len(scrape.text) < 4 << 20, "/metrics stays small"


@pytest.mark.parametrize("attack", REGISTRY_ATTACKS, ids=lambda a: a.name)
def test_a_hostile_registry_harms_only_itself(
    suite: Suite, outcomes: dict[str, Scrape | None], attack: RegistryAttack
) -> None:
    registry = suite.instances[attack.name]
    scrape = outcomes[f"registry:{attack.name}"] or suite.recent()
    assert status_of(scrape, registry.host, "app") == attack.status
    if attack.status == OK:
        assert platforms_of(scrape, registry.host, "app", "good") == PRESENT
    if attack.name in REGISTRY_UNTIL:
        assert REGISTRY_UNTIL[attack.name](suite, scrape, registry), "the attack developed"
    if attack.name in REGISTRY_CHECKS:
        REGISTRY_CHECKS[attack.name](suite, scrape, registry)
    suite.assert_unharmed("app")


@pytest.mark.parametrize("attack", HEALING, ids=lambda a: a.name)
def test_a_healed_registry_is_read_again_at_once(
    suite: Suite, healed: dict[str, Scrape | None], attack: RegistryAttack
) -> None:
    registry = suite.instances[attack.name]
    scrape = healed[attack.name] or suite.recent()
    assert status_of(scrape, registry.host, "app") == attack.healed
    assert platforms_of(scrape, registry.host, "app", "good") == PRESENT
    assert scrape.value("archlag_registry_up", registry=registry.host) == 1
    suite.assert_unharmed("app")


def test_no_planted_password_is_printed_anywhere(suite: Suite) -> None:
    archlag = suite.archlag
    pages = [
        httpx.get(f"{archlag.url}{path}", timeout=10).text
        for path in ("/", "/metrics", "/-/config", "/-/ready", "/api/v1/watches")
    ]
    log = archlag.log_path.read_text(errors="replace")
    echoed = suite.instances["basic-denied-echo"].requests()
    assert any("authorization" in r.headers for r in echoed), "the password was sent, and echoed"
    text = "\n".join([*pages, log])
    found = leaks(text, [PASSWORD]) + [f for f in basic_forms(USER, PASSWORD) if f in text]
    assert not found


def test_first_seen_times_survive_kill_9_after_the_attacks(suite: Suite) -> None:
    archlag = suite.archlag
    before = first_seen(suite.scrape())
    assert archlag.signal(signal.SIGKILL) == -signal.SIGKILL
    restarted = time.time()
    archlag.start()
    restored = first_seen(suite.scrape())
    control = {k: v for k, v in before.items() if ("registry", suite.control) in k}
    assert len(control) == 4, "control 1.0 and 2.0, two platforms each"
    assert before.items() <= restored.items(), "every first-seen time restored as it was"
    polled = suite.wait_for(
        lambda s: (
            (
                s.value(
                    "archlag_repository_last_poll_success_timestamp_seconds",
                    registry=suite.control,
                    repository=CONTROL,
                )
                or 0.0
            )
            > restarted
        ),
        "the control polled again",
    )
    changed = {k: v for k, v in first_seen(polled).items() if k in before and before[k] != v}
    assert not changed, "polls after the restart change no first-seen time"
    labels = {"registry": suite.control, "repository": CONTROL}
    assert polled.value("archlag_tag_publication_spread_seconds_count", **labels) == 1


# -- bugs these attacks found in archlag, each fixed; the test keeps it fixed ---------------------


def test_bug_a_redirect_to_another_scheme_is_taken_for_an_unreachable_registry(
    suite: Suite, outcomes: dict[str, Scrape | None]
) -> None:
    """A tag list answered with ``307 Location: ftp://...`` is an unusable answer of a registry
    that is up; archlag retries it as a connection failure, calls the watch ``unreachable`` and
    sets ``archlag_registry_up`` to 0 for the whole registry (httpx raises UnsupportedProtocol,
    a TransportError, which registry/transport.py maps to RegistryConnectionError)."""
    scrape = outcomes["bug:list-redirect-ftp"] or suite.recent()
    assert status_of(scrape, suite.shared.host, "attack/list-redirect-ftp") == UNREADABLE


def test_bug_a_new_tag_that_cannot_be_read_is_invisible(
    suite: Suite, outcomes: dict[str, Scrape | None]
) -> None:
    """A new tag whose manifest never verifies (its body does not hash to the digest HEAD gave)
    fails every check. It was invisible: ``archlag_watch_failing_tags`` stayed 0 and neither
    the status page nor the API named it, as only tags with a record were in the snapshot. Now
    a tag in view that no check could read is counted, shown and listed as ``unread_tags``."""
    host, repository = suite.shared.host, "attack/new-tag-unreadable"
    scrape = outcomes["bug:new-tag-unreadable"]
    assert scrape is not None, "checked twice, the failing tag is counted"
    assert failing_tags(scrape, host, repository) == 1
    page = httpx.get(f"{suite.archlag.url}/", timeout=10).text
    assert "data-tag='bad'" in page, "and named on the status page"
    image = f"{host}/{repository}"
    api = httpx.get(f"{suite.archlag.url}/api/v1/tags", params={"image": image}, timeout=10)
    unread = api.json()["unread_tags"]
    assert [u["tag"] for u in unread] == ["bad"], "and in the API"
    assert "digest" in unread[0]["last_check_error"], "with the reason"


def test_bug_a_schema1_tag_is_counted_again_at_every_poll(
    suite: Suite, outcomes: dict[str, Scrape | None]
) -> None:
    """``archlag_repository_unsupported_manifests_total{reason="schema1"}`` promises one count
    per digest, but a schema 1 tag was refused at its ``HEAD`` before checks.py learned its
    digest, so it was never remembered as refused and was counted again at every poll. The
    refusal now carries the digest ``HEAD`` gave."""
    repository = "attack/get-schema1"
    scrape = outcomes["bug:get-schema1"] or suite.recent()
    assert unsupported_count(suite, scrape, repository) == 1, "one manifest, counted once"


def test_bug_a_token_server_answering_404_empties_the_repository(
    suite: Suite, outcomes: dict[str, Scrape | None]
) -> None:
    """A token server that starts answering 404 (a broken or moved realm) once archlag has
    read the registry made the tag listing raise NotFoundError, so the poller took the
    repository for one that does not exist: status ``not_found``, and its tags left the view,
    though the registry only failed to hand out a token. A token server's 404 is now an
    unusable answer: ``unreadable``, and the tags stay."""
    registry = suite.instances["token-404"]
    assert outcomes["bug:token-404"] is not None, "three token requests answered 404"
    scrape = suite.scrape()
    assert status_of(scrape, registry.host, "app") == UNREADABLE
    assert platforms_of(scrape, registry.host, "app", "good") == PRESENT, "its tags stay in view"


def test_bug_names_a_registry_lists_once_pile_up_in_the_state(
    suite: Suite, outcomes: dict[str, Scrape | None]
) -> None:
    """A registry that lists fresh names at every poll (2,000 here; up to 200,000 a listing)
    grew the state file by a row per name per poll, and archlag's memory with it: every name
    ever listed was remembered and, once gone, kept 90 days, though it never had a record nor
    was in view (2.9 million rows a day at the default 1m interval). Absent names without a
    record are now capped per watch (listing.MAX_ABSENT_UNRECORDED), and the cap is counted."""
    repository = "attack/list-rotating-names"
    scrape = outcomes["bug:list-rotating-names"]
    assert scrape is not None, "five listings read, the cap hit and counted"
    listings = suite.since_armed(suite.shared, f"/v2/{repository}/tags/list")
    path = f"file:{suite.workdir}/state.db?mode=ro"
    with contextlib.closing(sqlite3.connect(path, uri=True)) as db:
        query = "SELECT count(*) FROM listed_tags WHERE repository = ?"
        rows = db.execute(query, (repository,)).fetchone()[0]
    # The latest listing, the names missing from one listing (after the restart of the kill -9
    # case, the two listings before it: which names were missing once is not kept), the cap.
    assert rows <= 3 * ROTATING + MAX_ABSENT_UNRECORDED + 1, (
        f"{rows} names remembered after {listings} listings of {ROTATING} fresh names each"
    )
    assert forgotten_names(scrape, suite.shared.host, repository) >= ROTATING
    log = suite.archlag.log_path.read_text(errors="replace")
    assert f"absent_names_forgotten registry={suite.shared.host} repository={repository}" in log
