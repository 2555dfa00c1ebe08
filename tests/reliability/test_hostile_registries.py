r"""Nothing a registry sends can stop archlag: every attack of the hostile-input issue, replayed.

One real ``archlag`` process watches a control repository on the real Debian registry and one
repository per attack on hostile registries (:mod:`tests.support.hostile_registry`), all at
once. The control's staggered release is measured while the attacks run. Each case then asserts
what a user would see: the process alive, ``/-/healthy`` answering, the attacked watch's
``archlag_watch_status``, its other tags still recorded, nothing crashed in the poll loop; at the
end the state is kept across a ``kill -9`` and no planted password is printed anywhere. The
cases' outcomes are waited for together (:meth:`Suite.settle`), so the catalog takes as long as
its slowest attack (a request timing out four times), not as long as all of them.

The suite lives in :mod:`tests.support.reliability`: the catalogs of attacks on a repository
(``repository_attacks``, with the table of what each sends and what archlag must show) and on a
whole registry (``registry_attacks``), the harness (``suite``) and what each case waits for and
checks (``outcomes``).

Attacks that found bugs in archlag are watched by the same process and asserted by the
``test_bug_*`` functions at the end, which keep each bug fixed: ``list-redirect-ftp`` (a 307 to
``ftp://`` was taken for an unreachable registry), ``new-tag-unreadable`` (a new tag that fails
every check was invisible), ``get-schema1`` (counted again at every poll), ``token-404`` (a
token server that starts answering 404 emptied the repository; now ``unreadable``, tags kept)
and ``list-rotating-names`` (2,000 fresh names a listing: every name ever listed was kept in
the state for 90 days; now absent names without a record are capped per watch).

Attacks on archlag's own endpoints, configuration and state file are in
``tests/reliability/test_hostile_inputs.py``; memory under attack in
``tests/reliability/test_memory.py``.
"""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import time
from collections.abc import Iterator

import httpx
import pytest

from archlag.polling.listing import MAX_ABSENT_UNRECORDED
from tests.support.archlag_process import Scrape
from tests.support.planted import basic_forms, leaks
from tests.support.reliability.common import (
    BOTH,
    CONTROL,
    OK,
    PASSWORD,
    PRESENT,
    STAGGER,
    UNREADABLE,
    USER,
)
from tests.support.reliability.outcomes import (
    CHECKS,
    REGISTRY_CHECKS,
    REGISTRY_UNTIL,
    UNTIL,
    bug_conditions,
    outcome,
    registry_outcome,
    unsupported_count,
)
from tests.support.reliability.registry_attacks import REGISTRY_ATTACKS, RegistryAttack
from tests.support.reliability.repository_attacks import ATTACKS, ROTATING, Attack
from tests.support.reliability.suite import (
    Condition,
    Suite,
    arm_all,
    failing_tags,
    first_seen,
    forgotten_names,
    platforms_of,
    prepare,
    release_control,
    status_of,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    with contextlib.ExitStack() as stack:
        suite = prepare(stack, tmp_path_factory.mktemp("reliability"))
        suite.archlag.start()
        arm_all(suite)
        suite.released = release_control(suite)
        yield suite


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
    # The tests below read the watches' statuses, which a restart sets back to pending until
    # each watch's first poll: wait for every one, not only the control, before they look.
    suite.wait_for(
        lambda s: not any(s.series("archlag_watch_status", status="pending").values()),
        "every watch polled again after the restart",
    )
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
