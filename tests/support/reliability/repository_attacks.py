r"""Repository attacks, on one shared hostile registry (``attack/<name>``).

Before an attack is armed the repository serves tag ``good`` (linux/amd64 + linux/arm64), and
for attacks on a tag also ``victim``, soundly; once armed, ``victim`` gets new content (plus
linux/arm/v7) and:

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
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.support.hostile_answers import (
    answer,
    declared_length,
    deep_json,
    endless,
    gzip_bomb,
    hang,
    huge_headers,
    json_answer,
    lying_length,
    pages,
    raw,
    redirect,
    reset,
    trickle,
)
from tests.support.hostile_http import (
    OCI_INDEX,
    OCI_MANIFEST,
    SCHEMA1,
    Connection,
    Handler,
    Request,
    digest_of,
    status_head,
)
from tests.support.hostile_registry import HostileRegistry, Repository, index_body

# -- the catalog --------------------------------------------------------------------------------
from tests.support.reliability.common import (
    BOTH,
    DENIED,
    NEW,
    NOT_FOUND,
    OK,
    REDOS_TAG,
    UNREACHABLE,
    UNREADABLE,
)


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
