"""Benchmark: a recorded history of two repositories replayed through the lateness model.

Prints numbers; asserts nothing. Usage: python -m benchmarks.lateness_replay

Two repositories, 30 releases each, arm64 published after amd64 by the delays below (minutes,
as archlag measured them): one builds arm64 under emulation (40 to 90 minutes), one natively
(1 to 3 minutes). Each has one incident, a release whose arm64 job got stuck until someone
restarted it, and after the 30 releases a 31st whose arm64 never comes.

Each release is judged as archlag judges it when it is published: by the history of the
releases before it (:class:`archlag.core.lateness.DelayHistory`), with the default
``lateness`` settings and ``stall_after: 30m``. A release pages when its arm64 took longer than
the threshold: the fixed rule (ArchlagPlatformMissing's ``stall_after``) or the adaptive one
(ArchlagPlatformLate's deadline). A page on a release that was not an incident is a false page.
"""

from __future__ import annotations

from dataclasses import dataclass

from archlag.core.durations import format_duration
from archlag.core.lateness import STALL_AFTER, DelayHistory, LatenessRule, LatenessSettings
from archlag.core.platforms import parse_platform

ARM = parse_platform("linux/arm64")
STALL_AFTER_SECONDS = 1800.0
RULE = LatenessRule(LatenessSettings(), stall_after=STALL_AFTER_SECONDS)


@dataclass(frozen=True, slots=True)
class Recorded:
    name: str
    arm64_minutes: tuple[float, ...]  # per release, in order
    incidents: frozenset[int]  # releases (0-based) whose arm64 was stuck, not slow


EMULATED = Recorded(
    "acme/emulated (arm64 under QEMU)",
    (
        85.3, 74.3, 78.3, 85.2, 53.0, 71.8, 85.2, 83.6, 68.6, 48.5, 60.6, 89.7, 45.2, 56.0, 87.5,
        62.5, 50.4, 55.8, 85.4, 56.8, 300.0, 71.4, 80.3, 64.6, 44.1, 68.7, 41.8, 44.7, 49.5, 74.7,
    ),
    frozenset({20}),  # 5 hours: a runner hung
)  # fmt: skip
NATIVE = Recorded(
    "acme/native (arm64 on native runners)",
    (
        1.6, 2.4, 1.3, 1.2, 1.0, 2.4, 2.7, 1.4, 1.5, 1.0, 2.3, 1.6, 45.0, 2.3, 2.2, 1.9, 1.3, 2.3,
        2.1, 1.9, 1.3, 2.9, 2.7, 2.4, 3.0, 2.2, 1.7, 1.2, 2.2, 2.0,
    ),
    frozenset({12}),  # 45 minutes: the arm64 job was queued behind another project
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Replay:
    fixed_pages: int
    fixed_false: int
    adaptive_pages: int
    adaptive_false: int
    learning_pages: int  # adaptive pages while history was too short (stall_after applied)
    incident_fixed: float  # seconds from the first platform to the page, per rule
    incident_adaptive: float
    stuck_fixed: float  # the 31st release, whose arm64 never comes
    stuck_adaptive: float


def replay(recorded: Recorded) -> Replay:
    history = DelayHistory()
    fixed = fixed_false = adaptive = adaptive_false = learning = 0
    incident_fixed = incident_adaptive = 0.0
    for number, minutes in enumerate(recorded.arm64_minutes):
        delay = minutes * 60
        expected = history.expected().get(ARM)
        threshold = RULE.threshold(expected)
        incident = number in recorded.incidents
        if delay > STALL_AFTER_SECONDS:
            fixed += 1
            fixed_false += not incident
        if delay > threshold:
            adaptive += 1
            adaptive_false += not incident
            learning += not RULE.from_history(expected)
        if incident:
            incident_fixed, incident_adaptive = STALL_AFTER_SECONDS, threshold
        history.observe(ARM, delay)  # measured at completion, as the exporter does
    stuck = RULE.threshold(history.expected().get(ARM))
    return Replay(
        fixed, fixed_false, adaptive, adaptive_false, learning,
        incident_fixed, incident_adaptive, STALL_AFTER_SECONDS, stuck,
    )  # fmt: skip


def minutes(values: tuple[float, ...]) -> str:
    return f"{format_duration(min(values) * 60)} to {format_duration(max(values) * 60)}"


def main() -> None:
    settings = RULE.settings
    print(
        f"lateness: min {format_duration(settings.min)}, max {format_duration(settings.max)}, "
        f"margin {settings.margin:g}, min_observations {settings.min_observations}; "
        f"stall_after {format_duration(STALL_AFTER_SECONDS)} (the fixed threshold, and the "
        f"adaptive one while history is short: basis {STALL_AFTER})"
    )
    for recorded in (EMULATED, NATIVE):
        normal = tuple(
            m for i, m in enumerate(recorded.arm64_minutes) if i not in recorded.incidents
        )
        result = replay(recorded)
        print(f"\n{recorded.name}: {len(recorded.arm64_minutes)} releases, arm64 after "
              f"{minutes(normal)}, {len(recorded.incidents)} incident(s)")  # fmt: skip
        print(f"  pages, fixed 30m:  {result.fixed_pages} ({result.fixed_false} false)")
        print(
            f"  pages, adaptive:   {result.adaptive_pages} ({result.adaptive_false} false, "
            f"{result.learning_pages} of them while learning from the first "
            f"{settings.min_observations} releases)"
        )
        print(
            f"  incident paged after: fixed {format_duration(result.incident_fixed)}, "
            f"adaptive {format_duration(result.incident_adaptive)}"
        )
        print(
            f"  stuck 31st release paged after: fixed {format_duration(result.stuck_fixed)}, "
            f"adaptive {format_duration(result.stuck_adaptive)}"
        )


if __name__ == "__main__":
    main()
