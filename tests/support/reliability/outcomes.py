"""What each case must show: conditions polled together until they hold, then checks."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

from tests.support.archlag_process import Scrape
from tests.support.hostile_fronts import Throttle
from tests.support.hostile_registry import HostileRegistry
from tests.support.reliability.common import OK, PRESENT, REDOS_TAG
from tests.support.reliability.registry_attacks import RegistryAttack
from tests.support.reliability.repository_attacks import ROTATING, Attack
from tests.support.reliability.suite import (
    Condition,
    Suite,
    failing_tags,
    forgotten_names,
    limit_hits,
    platforms_of,
    status_of,
)

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
