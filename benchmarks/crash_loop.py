"""Benchmark: the crash loop of tests/end_to_end/test_crash_loop.py with hundreds of ``kill -9``.

Prints counts; asserts nothing. A real Debian ``docker-registry`` on loopback and the real
``archlag`` process; each kill lands at a random moment while tags are being published.
Usage, from the repository root: python -m benchmarks.crash_loop [KILLS] [SEED] (default 300)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tests.end_to_end.test_crash_loop import crash_loop
from tests.support.registry_server import RegistryServer


def main() -> None:
    kills = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    with tempfile.TemporaryDirectory() as tmp, RegistryServer(Path(tmp) / "registry") as registry:
        workdir = Path(tmp) / "archlag"
        workdir.mkdir()
        result = crash_loop(registry, workdir, kills=kills, seed=seed)
    print(f"kills={result.kills} seconds={result.seconds:.0f}")
    print(
        f"publications_completed={result.publications} observed={result.observed} "
        f"metrics_spread_count={result.metrics_spread_count}"
    )
    print(
        f"first_seen_recorded={result.first_seen_recorded} lost={result.first_seen_lost} "
        f"changed={result.first_seen_changed}"
    )
    print(f"observations_repeated={result.repeated} missing={result.missing}")
    for problem in result.problems[:20]:
        print(f"problem: {problem}")


if __name__ == "__main__":
    main()
