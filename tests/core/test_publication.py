"""The publication model, by tables of cases: no I/O, explicit times."""

from __future__ import annotations

import pytest

from archlag.core.platforms import parse_platform
from archlag.core.publication import (
    CONFIGURED,
    LEARNED,
    LEGACY,
    OWN,
    Content,
    Expectation,
    PlatformState,
    Publication,
    TagState,
    apply_content,
    begin_expectations,
    delay_uncertainty,
    estimate,
    learned_expectation,
    legacy_expectation,
    select_tags,
    settle,
    uncertainty,
    version_key,
)

AMD, ARM, V7 = (parse_platform(p) for p in ("linux/amd64", "linux/arm64", "linux/arm/v7"))
BOTH = frozenset({AMD, ARM})


def content(**platforms: str) -> Content:
    mapping = {parse_platform(name.replace("_", "/")): d for name, d in platforms.items()}
    return Content("sha256:" + "-".join(sorted(platforms.values())), mapping)


def look(
    previous: TagState | None,
    found: Content | None,
    now: float,
    expected: frozenset = BOTH,
    candidate: bool = False,
):
    """One poll of one tag: apply what was found, then settle against the expectation."""
    regressions: tuple = ()
    new = False
    if found is None:
        assert previous is not None
        state = previous
    else:
        outcome = apply_content(previous, "1.0", found, now)
        state, regressions, new = outcome.state, outcome.regressions, outcome.new_publication
    state = begin_expectations({"1.0": state}, expected).get("1.0", state)
    state, completion = settle(state, baseline_candidate=candidate and new)
    return state, completion, regressions


def test_staggered_release_is_one_publication_observed_once() -> None:
    s, c, _ = look(None, content(linux_amd64="a1"), now=1000)
    assert c is None
    assert s.publication.first_seen == 1000
    s, c, _ = look(s, content(linux_amd64="a1", linux_arm64="b1"), now=2200)
    assert c is not None
    assert c.spread == 1200
    assert dict(c.delays) == {AMD: 0, ARM: 1200}
    assert s.publication.seq == 1
    assert s.publication.platforms[AMD].first_seen == 1000
    assert s.publication.platforms[ARM].first_seen == 2200
    s, c, _ = look(s, None, now=3000)
    assert c is None, "a completed publication is never observed twice"


@pytest.mark.parametrize(
    ("old", "new", "same", "regressed"),
    [
        ({"linux_amd64": "a1"}, {"linux_amd64": "a1", "linux_arm64": "b1"}, True, ()),
        ({"linux_amd64": "a1", "linux_arm64": "b1"}, {"linux_amd64": "a1"}, True, (ARM,)),
        (
            {"linux_amd64": "a1", "linux_arm64": "b1"},
            {"linux_amd64": "a2", "linux_arm64": "b1"},
            False,
            (),
        ),
        ({"linux_amd64": "a1"}, {"linux_arm64": "b1"}, False, ()),  # nothing shared: rebuilt
        ({"linux_amd64": "a1", "linux_arm64": "b1"}, {}, True, (AMD, ARM)),  # emptied index
    ],
    ids=["late-arrival", "dropped", "digest-changed", "disjoint", "emptied"],
)
def test_same_or_new_publication(old, new, same, regressed) -> None:
    s, _, _ = look(None, content(**old), now=100)
    s2, _, regressions = look(s, content(**new), now=200)
    assert (s2.publication.seq == 1) is same
    assert regressions == regressed
    if not same:
        assert all(p.first_seen == 200 for p in s2.publication.platforms.values())


def test_regression_keeps_first_seen_and_returns() -> None:
    s, _, _ = look(None, content(linux_amd64="a1", linux_arm64="b1"), now=100)
    s, _, regressions = look(s, content(linux_amd64="a1"), now=200)
    assert regressions == (ARM,)
    assert s.publication.platforms[ARM].present is False
    assert not s.publication.complete
    s, _c, regressions = look(s, content(linux_amd64="a1", linux_arm64="b1"), now=300)
    assert regressions == ()
    assert s.publication.platforms[ARM].first_seen == 100
    assert s.publication.platforms[ARM].present


def test_moving_tag_starts_new_publication_and_observes_it() -> None:
    s, c, _ = look(None, content(linux_amd64="a1", linux_arm64="b1"), now=100, candidate=True)
    assert c is None
    assert s.publication.baseline, "complete at first sight: baseline"
    s, c, _ = look(s, content(linux_amd64="a2"), now=500)
    assert s.publication.seq == 2
    assert c is None
    s, c, _ = look(s, content(linux_amd64="a2", linux_arm64="b2"), now=560)
    assert c is not None
    assert c.spread == 60
    assert c.seq == 2


def test_baseline_incomplete_is_observed_when_it_completes() -> None:
    s, c, _ = look(None, content(linux_amd64="a1"), now=100, candidate=True)
    assert not s.publication.baseline
    s, c, _ = look(s, content(linux_amd64="a1", linux_arm64="b1"), now=400)
    assert c is not None
    assert c.spread == 300


def test_expectation_is_fixed_when_the_publication_begins() -> None:
    s, c, _ = look(None, content(linux_amd64="a1"), now=100)
    assert c is None
    assert s.publication.expectation == Expectation(BOTH, CONFIGURED)
    s, c, _ = look(s, None, now=200, expected=frozenset({AMD}))
    assert c is None, "a changed configuration applies to publications that begin afterwards"
    assert s.publication.expected == BOTH
    s, c, _ = look(s, content(linux_amd64="a2"), now=300, expected=frozenset({AMD}))
    assert s.publication.seq == 2
    assert c is not None, "the new publication is judged by the new configuration"
    assert c.spread == 0


def test_extra_platforms_do_not_block_completion() -> None:
    _s, c, _ = look(
        None, content(linux_amd64="a1", linux_arm_v7="c1"), now=100, expected=frozenset({AMD})
    )
    assert c is not None
    assert set(c.delays) == {AMD, V7}


def _state(tag: str, first_seen: float, *platforms) -> TagState:
    found = Content("sha256:" + tag, {p: tag + str(p) for p in platforms})
    return apply_content(None, tag, found, first_seen).state


def test_learned_expectation_comes_from_the_three_most_recent_older_tags() -> None:
    states = {
        "1.0": _state("1.0", 10, AMD),  # oldest: not among the three most recent older tags
        "1.1": _state("1.1", 20, AMD, V7),
        "1.2": _state("1.2", 30, AMD, ARM),
        "1.3": _state("1.3", 40, AMD),
        "2.0": _state("2.0", 50, AMD),
    }
    learned = learned_expectation("2.0", 50, states.values())
    assert learned == Expectation(frozenset({AMD, ARM, V7}), LEARNED, ("1.3", "1.2", "1.1"))
    assert learned_expectation("1.2", 30, states.values()).platforms == {AMD, V7}
    assert learned_expectation("1.0", 10, states.values()) == Expectation(frozenset(), OWN)


def test_tags_seen_together_learn_from_lower_versions() -> None:
    """At a repository's first poll every tag is first seen at once: version order decides."""
    states = {t: _state(t, 100, AMD, ARM) for t in ("1.0", "1.1")} | {
        "2.0": _state("2.0", 100, AMD)
    }
    assert learned_expectation("2.0", 100, states.values()).platforms == BOTH
    assert learned_expectation("1.0", 100, states.values()).basis == OWN


def test_a_later_tag_with_a_new_platform_leaves_older_tags_complete() -> None:
    """Story 1 of the trustworthy-measurements issue, as pure logic."""
    tags = {"1.0": _state("1.0", 10, AMD, ARM), "1.1": _state("1.1", 20, AMD, ARM)}
    begin_expectations(tags, frozenset())
    tags = {t: settle(s)[0] for t, s in tags.items()}
    assert all(s.publication.complete for s in tags.values())
    tags["2.0"] = _state("2.0", 30, AMD, ARM, V7)
    changed = begin_expectations(tags, frozenset())
    assert set(changed) == {"2.0"}, "older publications keep the expectation they began with"
    assert tags["1.0"].publication.complete
    assert tags["1.1"].publication.expected == BOTH
    assert tags["2.0"].publication.expected == BOTH
    _, completion = settle(tags["2.0"])
    assert completion is not None
    assert set(completion.delays) == {AMD, ARM, V7}
    gone = apply_content(tags["1.1"], "1.1", Content("sha256:x", {AMD: "1.1linux/amd64"}), 40)
    assert gone.regressions == (ARM,)
    assert not gone.state.publication.complete, "a platform that really vanished still counts"


def test_legacy_publications_keep_what_they_were_judged_complete_with() -> None:
    observed = settle(_with(_state("1.0", 10, AMD, ARM), BOTH))[0]
    old = TagState("1.0", "sha256:i", _without_expectation(observed.publication), 10)
    assert legacy_expectation(old, frozenset(), ()) == Expectation(BOTH, LEGACY)
    pending = TagState("2.0", "sha256:j", Publication(1, 20, {AMD: PlatformState("a", 20)}), 20)
    assert legacy_expectation(pending, frozenset(), [old]).platforms == BOTH
    assert legacy_expectation(pending, frozenset({V7}), [old]).basis == CONFIGURED


def _with(state: TagState, expected: frozenset) -> TagState:
    return begin_expectations({state.tag: state}, expected)[state.tag]


def _without_expectation(publication: Publication) -> Publication:
    return Publication(
        publication.seq,
        publication.first_seen,
        publication.platforms,
        publication.baseline,
        publication.observed,
    )


def test_last_absent_bounds_every_late_platform() -> None:
    first = apply_content(None, "1.0", content(linux_amd64="a1"), 100, absent_at=40).state
    assert first.publication.platforms[AMD].last_absent == 40, "the listing before it appeared"
    checked = TagState(first.tag, first.digest, first.publication, 130)  # looked again at 130
    later = apply_content(checked, "1.0", content(linux_amd64="a1", linux_arm64="b1"), 160).state
    arm = later.publication.platforms[ARM]
    assert (arm.first_seen, arm.last_absent) == (160, 130)
    assert uncertainty(arm) == 30
    assert delay_uncertainty(later.publication, ARM) == 60, "the first platform's bound is wider"
    unseen = apply_content(None, "1.0", content(linux_amd64="a1"), 100).state
    assert unseen.publication.platforms[AMD].last_absent is None
    assert uncertainty(unseen.publication.platforms[AMD]) is None
    assert delay_uncertainty(unseen.publication, AMD) is None


@pytest.mark.parametrize(
    ("older", "newer"),
    [("2.9.0", "2.10.0"), ("1.0", "1.0.1"), ("latest", "1.0"), ("v1.9", "v1.10"), ("9", "10")],
)
def test_version_key_is_numeric_aware(older: str, newer: str) -> None:
    assert version_key(older) < version_key(newer)


def test_select_tags_prefers_recent_then_version() -> None:
    first = {"2.9.0": 100.0, "2.10.0": 100.0, "1.0.0": 100.0, "2.0.0-hotfix": 200.0}
    assert select_tags(first, first, 2) == ["2.0.0-hotfix", "2.10.0"]
    assert select_tags(["a", "b"], {}, 5) == ["b", "a"]


def test_registry_push_times_count_only_when_earlier() -> None:
    found = Content("sha256:i", {AMD: "a", ARM: "b"}, pushed={AMD: 900.0, ARM: 1500.0})
    state = apply_content(None, "1.0", found, 1000.0).state
    amd, arm = state.publication.platforms[AMD], state.publication.platforms[ARM]
    assert (amd.first_seen, amd.source) == (900.0, "registry")
    assert (arm.first_seen, arm.source) == (1000.0, "observed"), "a push time after the look"
    assert state.publication.first_seen == 900.0
    assert uncertainty(amd) == 0.0


def test_push_times_before_the_last_check_without_the_platform_are_ignored() -> None:
    """An image pushed by digest long before an index names it says nothing about the tag."""
    first = apply_content(None, "1.0", Content("sha256:i", {AMD: "a"}), 1000.0).state
    found = Content("sha256:j", {AMD: "a", ARM: "b"}, pushed={ARM: 950.0})
    arm = apply_content(first, "1.0", found, 1060.0).state.publication.platforms[ARM]
    assert (arm.first_seen, arm.source, arm.last_absent) == (1060.0, "observed", 1000.0)


def test_estimate_needs_plausible_build_times_for_every_platform() -> None:
    state = _with(
        apply_content(None, "1.0", Content("sha256:i", {AMD: "a", ARM: "b"}), 2e9).state, BOTH
    )
    good = estimate(state, {AMD: 1.6e9, ARM: 1.6e9 + 90}, now=2e9)
    assert good is not None
    assert good.estimated
    assert good.spread == 90
    assert estimate(state, {AMD: 1.6e9, ARM: 315532800.0}, now=2e9) is None  # 1980
    assert estimate(state, {AMD: 1.6e9}, now=2e9) is None
