"""The harness: one archlag, the control registry and every hostile registry, and how to read
what archlag shows."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import running_registry
from tests.support.archlag_process import ArchlagProcess, Scrape
from tests.support.hostile_http import Front
from tests.support.hostile_registry import HostileRegistry
from tests.support.pusher import Descriptor, Pusher
from tests.support.reliability.common import (
    BOTH,
    CONTROL,
    INTERVAL,
    OK,
    PASSWORD,
    PRESENT,
    STAGGER,
    TIMEOUT,
    USER,
    WAIT,
)
from tests.support.reliability.registry_attacks import BUG_REGISTRY_ATTACKS, REGISTRY_ATTACKS
from tests.support.reliability.repository_attacks import ATTACKS, BUG_ATTACKS

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
