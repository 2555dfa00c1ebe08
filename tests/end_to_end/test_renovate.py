"""The real Renovate, configured as docs/integrations.md says, waits for every platform.

Renovate 39 (installed by scripts/test, see tests/support/renovate.py) runs offline in
``--platform=local`` lookup mode over a small repository: Dockerfiles, one of them pinned to a
digest, and a kustomization. Its configuration is the one in docs/integrations.md, with the
example hosts replaced by the real docker-registry and the real archlag process on loopback.
What it proposes is read from its JSON report.
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Callable
from datetime import datetime
from itertools import count
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.archlag_process import ArchlagProcess
from tests.support.paths import ROOT
from tests.support.pusher import Pusher
from tests.support.registry_server import RegistryServer
from tests.support.renovate import LookupResult, lookup

INTEGRATIONS = ROOT / "docs" / "integrations.md"
BOTH = ["linux/amd64", "linux/arm64"]
GOTIFY = "gotify/server"  # wanted: every platform its watch expects
BATCH = "example/batch"  # wanted: linux/amd64 only (?platform=linux/amd64)
AGE = 20  # seconds: minimumReleaseAge in the tests, long enough for one Renovate run
WAIT = 20.0  # seconds: bound of each wait for archlag to see a push


def documented_configs() -> tuple[dict[str, Any], dict[str, Any]]:
    """The Renovate configuration in docs/integrations.md, and its plain-HTTP host rule."""
    blocks = [
        json.loads(b)
        for b in re.findall(r"```json\n(.*?)```", INTEGRATIONS.read_text(encoding="utf-8"), re.S)
    ]
    datasource = next(b for b in blocks if "customDatasources" in b)
    host_rules = next(b for b in blocks if "hostRules" in b)
    return datasource, host_rules


def localised(config: Any, replacements: dict[str, str]) -> Any:
    """``config`` with the documentation's example hosts and images replaced in every string."""
    if isinstance(config, dict):
        return {key: localised(value, replacements) for key, value in config.items()}
    if isinstance(config, list):
        return [localised(value, replacements) for value in config]
    if isinstance(config, str):
        for example, real in replacements.items():
            config = config.replace(example, real)
    return config


def with_age(config: dict[str, Any], age: str | None) -> dict[str, Any]:
    """``config`` with every package rule's ``minimumReleaseAge`` set to ``age`` (None: none)."""
    changed = copy.deepcopy(config)
    for rule in changed["packageRules"]:
        rule.pop("minimumReleaseAge", None)
        if age is not None:
            rule["minimumReleaseAge"] = age
    return changed


def publish(pusher: Pusher, repository: str, tag: str, *platforms: str) -> str:
    return pusher.publish(repository, tag, *platforms, seed=f"{repository} {tag}")


def first_seen(archlag: ArchlagProcess, image: str, tag: str, platform: str) -> float:
    """When archlag first saw ``platform`` of ``image:tag``, waiting (bounded) until it has."""
    deadline = time.monotonic() + WAIT
    while True:
        response = httpx.get(f"{archlag.url}/api/v1/tags", params={"image": f"{image}:{tag}"})
        for view in response.json().get("tags", []) if response.status_code == 200 else []:
            for entry in view["platforms"]:
                if entry["platform"] == platform and entry["available"]:
                    return float(entry["first_seen"])
        if time.monotonic() > deadline:
            raise AssertionError(f"archlag did not see {platform} of {image}:{tag}\n"
                                 f"{archlag.log_tail()}")  # fmt: skip
        time.sleep(0.1)


def sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.time()))


def proposals(result: LookupResult, package_file: str) -> list[tuple[str, str | None, bool]]:
    """(new value, new digest, pending checks) of each update proposed for ``package_file``."""
    return [
        (u.new_value, u.new_digest, u.pending_checks) for u in result.in_file(package_file).updates
    ]


def released(result: LookupResult, package_file: str) -> float:
    (update,) = result.in_file(package_file).updates
    assert update.release_timestamp is not None
    return datetime.fromisoformat(update.release_timestamp).timestamp()


Renovate = Callable[[dict[str, Any]], LookupResult]


@pytest.fixture
def renovate(tmp_path: Path) -> Renovate:
    """``renovate(config)``: one Renovate run over ``tmp_path/repo`` with that renovate.json."""
    repo = tmp_path / "repo"
    runs = count(1)

    def run(config: dict[str, Any]) -> LookupResult:
        (repo / "renovate.json").write_text(json.dumps(config, indent=2))
        result = lookup(repo, tmp_path / f"renovate-{next(runs)}")
        assert result.complaints == (), f"Renovate complained; log: {result.log_path}"
        return result

    return run


@pytest.mark.integration
def test_renovate_proposes_a_tag_once_every_platform_is_out_for_the_age(
    registry: RegistryServer, pusher: Pusher, tmp_path: Path, renovate: Renovate
) -> None:
    gotify, batch = f"{registry.host}/{GOTIFY}", f"{registry.host}/{BATCH}"
    old_digest = publish(pusher, GOTIFY, "2.6.0", *BOTH)
    publish(pusher, BATCH, "1.0", *BOTH)
    repo = tmp_path / "repo"
    for path, text in {
        "Dockerfile": f"FROM {gotify}:2.6.0\n",
        "pinned/Dockerfile": f"FROM {gotify}:2.6.0@{old_digest}\n",
        "batch/Dockerfile": f"FROM {batch}:1.0\n",
        "deploy/kustomization.yaml": (
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
            f'images:\n  - name: gotify\n    newName: {gotify}\n    newTag: "2.6.0"\n'
        ),
    }.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    archlag_config = {
        "state_file": str(tmp_path / "state.db"),
        "defaults": {"interval": "300ms", "settled_interval": "1s", "platforms": BOTH},
        "registries": {registry.host: {"insecure": True}},
        "watches": [{"image": gotify}, {"image": batch}],
    }
    (tmp_path / "archlag").mkdir()
    with ArchlagProcess(tmp_path / "archlag", archlag_config) as archlag:
        documented, host_rules = documented_configs()
        replacements = {
            "http://archlag.example:10043": archlag.url,
            "ghcr.io/example/batch": batch,
            "gotify/server": gotify,
            "127.0.0.1:5000": registry.host,
        }
        plain = localised(host_rules, replacements)
        asking = localised(documented, replacements) | plain
        first_seen(archlag, gotify, "2.6.0", "linux/arm64")
        first_seen(archlag, batch, "1.0", "linux/arm64")

        # 2.6.1 (and batch 1.1) come out for amd64 first.
        amd = pusher.push_image(GOTIFY, "linux/amd64", seed="2.6.1")
        amd_only_digest = pusher.push_index(GOTIFY, "2.6.1", [amd])
        publish(pusher, BATCH, "1.1", "linux/amd64")
        amd_seen = first_seen(archlag, gotify, "2.6.1", "linux/amd64")
        first_seen(archlag, batch, "1.1", "linux/amd64")
        while_amd_only = renovate(with_age(asking, None))
        docker_only = renovate(plain)

        # arm64 follows once amd64 has been out for longer than the age.
        sleep_until(amd_seen + AGE + 1)
        complete_digest = pusher.push_index(
            GOTIFY, "2.6.1", [amd, pusher.push_image(GOTIFY, "linux/arm64", seed="2.6.1")]
        )
        arm_seen = first_seen(archlag, gotify, "2.6.1", "linux/arm64")
        young = renovate(with_age(asking, f"{AGE} seconds"))
        young_done = time.time()
        complete = renovate(with_age(asking, None))
        sleep_until(arm_seen + AGE + 1)
        aged = renovate(with_age(asking, f"{AGE} seconds"))

    # A plain Docker lookup proposes 2.6.1 the moment its first platform is out: the bug.
    assert proposals(docker_only, "Dockerfile") == [("2.6.1", None, False)]
    assert proposals(docker_only, "pinned/Dockerfile") == [("2.6.1", amd_only_digest, False)]
    # Asking archlag, nothing while arm64 is missing; a rule that wants amd64 only gets batch 1.1.
    assert proposals(while_amd_only, "Dockerfile") == []
    assert proposals(while_amd_only, "pinned/Dockerfile") == []
    assert proposals(while_amd_only, "deploy/kustomization.yaml") == []
    assert proposals(while_amd_only, "batch/Dockerfile") == [("1.1", None, False)]
    # Once arm64 is out: 2.6.1, and the pin moves to the index that has both platforms.
    assert proposals(complete, "Dockerfile") == [("2.6.1", None, False)]
    assert proposals(complete, "pinned/Dockerfile") == [("2.6.1", complete_digest, False)]
    assert proposals(complete, "deploy/kustomization.yaml") == [("2.6.1", None, False)]
    # minimumReleaseAge counts from the arm64 push: amd64 had been out longer than the age.
    assert young_done < arm_seen + AGE, "the premise: that Renovate run ended within the age"
    assert arm_seen - amd_seen > AGE
    assert proposals(young, "Dockerfile") == [("2.6.1", None, True)]
    assert proposals(young, "pinned/Dockerfile") == [("2.6.1", complete_digest, True)]
    assert released(young, "Dockerfile") == pytest.approx(arm_seen, abs=0.002)
    assert proposals(aged, "Dockerfile") == [("2.6.1", None, False)]
    assert proposals(aged, "pinned/Dockerfile") == [("2.6.1", complete_digest, False)]
