"""``archlag check`` and ``archlag wait`` against the real Debian docker-registry.

Most runs go through :func:`archlag.cli.main` in this process (retries switched off, so a
registry that is down fails at once); the Ctrl-C test runs the installed ``archlag`` script.
"""

from __future__ import annotations

import io
import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import anyio
import pytest
import yaml

from archlag import gate
from archlag.cli import main
from archlag.config import Config
from archlag.core.platforms import parse_platform
from archlag.core.references import parse_reference
from archlag.gate import Report, Wanted
from archlag.gate import output as gate_output
from archlag.registry import RetryPolicy, TagContent
from archlag.registry.configured import open_client
from tests.support.archlag_process import ARCHLAG
from tests.support.pusher import Pusher
from tests.support.registry_server import RegistryServer

pytestmark = pytest.mark.integration

REPO = "demo/app"
NO_RETRY = RetryPolicy(attempts=1)
AMD, ARM, V7 = (parse_platform(p) for p in ("linux/amd64", "linux/arm64", "linux/arm/v7"))


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, list[str]]:
    """``archlag ARGS`` in-process: exit status, stdout, stderr lines."""
    try:
        status = main(list(args), retry=NO_RETRY)
    except SystemExit as exit_:  # argparse usage errors
        status = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return status, out, err.splitlines()


def image(registry: RegistryServer, tag: str) -> str:
    return f"{registry.host}/{REPO}:{tag}"


def publish(pusher: Pusher, tag: str, *platforms: str, attest: bool = False) -> str:
    return pusher.publish(REPO, tag, *platforms, attest=attest)


# -- check ------------------------------------------------------------------------------------


def test_check_all_present_as_json_ignores_attestations(registry, pusher, capsys) -> None:
    digest = publish(pusher, "1.0", "linux/amd64", "linux/arm64", attest=True)

    status, out, err = run(
        capsys,
        "check",
        image(registry, "1.0"),
        "--insecure",
        "-p",
        "linux/amd64",
        "--platform",
        "linux/aarch64",
        "--output",
        "json",
    )

    assert status == 0
    assert err == [
        f"archlag: {image(registry, '1.0')}: all wanted platforms present: linux/amd64, linux/arm64"
    ]
    document = json.loads(out)
    assert document["complete"] is True
    assert document["digest"] == digest
    assert document["expected"] == ["linux/amd64", "linux/arm64"]  # aarch64 normalised
    assert document["expected_from"] == "platform_flags"
    assert [p["platform"] for p in document["platforms"]] == ["linux/amd64", "linux/arm64"]
    assert all(p["present"] and p["digest"].startswith("sha256:") for p in document["platforms"])
    assert "unknown" not in out, "attestation manifests never count as platforms"


def test_check_missing_platform_prints_an_80_column_table(registry, pusher, capsys) -> None:
    publish(pusher, "1.1", "linux/amd64", "linux/s390x", attest=True)

    status, out, err = run(
        capsys, "check", image(registry, "1.1"), "--insecure", "-p", "linux/amd64,linux/arm64"
    )

    assert status == 1
    assert err == [
        f"archlag: {image(registry, '1.1')}: 1 of 2 wanted platforms missing: linux/arm64"
    ]
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines), out
    table = lines[lines.index("") + 2 :]
    rows = {line.split()[0]: line.split()[1:] for line in table[: table.index("")]}
    assert "--server URL asks a running archlag" in " ".join(table), "where to learn when"
    assert rows["linux/amd64"][:2] == ["yes", "present"]
    assert rows["linux/arm64"] == ["yes", "MISSING", "-"]
    assert rows["linux/s390x"][:2] == ["no", "present"]
    assert "unknown/unknown" not in out


def test_check_learns_platforms_from_the_three_newest_other_tags(registry, pusher, capsys) -> None:
    publish(pusher, "1.0", "linux/amd64", "linux/s390x")  # fourth newest: not learned from
    publish(pusher, "1.1", "linux/amd64")
    publish(pusher, "1.2", "linux/amd64", "linux/arm64")
    publish(pusher, "1.10", "linux/amd64", "linux/arm/v7")  # newest by version order
    publish(pusher, "latest", "linux/ppc64le")  # words sort before versions
    publish(pusher, "2.0", "linux/amd64")

    status, out, _ = run(capsys, "check", image(registry, "2.0"), "--insecure", "-o", "json")

    document = json.loads(out)
    assert status == 1
    assert document["expected_from"] == "recent_tags"
    assert document["learned_from"] == ["1.10", "1.2", "1.1"]
    assert document["expected"] == ["linux/amd64", "linux/arm/v7", "linux/arm64"]
    assert document["missing"] == ["linux/arm/v7", "linux/arm64"]


def test_check_tag_not_found_is_missing(registry, pusher, capsys) -> None:
    publish(pusher, "1.0", "linux/amd64")

    status, out, err = run(capsys, "check", image(registry, "9.9"), "--insecure", "-o", "json")

    assert status == 1
    assert err == [f"archlag: {image(registry, '9.9')}: tag not found (wanted: linux/amd64)"]
    document = json.loads(out)
    assert (document["found"], document["digest"], document["missing"]) == (
        False,
        None,
        ["linux/amd64"],
    )


def test_check_without_anything_to_learn_from_is_a_usage_error(registry, capsys) -> None:
    status, out, err = run(capsys, "check", image(registry, "1.0"), "--insecure")

    assert (status, out) == (2, "")
    reason = "has no other tags to learn the expected platforms from: name them with --platform"
    assert err == [f"archlag: {image(registry, '1.0')}: {registry.host}/{REPO} {reason}"]


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["check", "127.0.0.1:5000/Demo/app:1.0"], "'Demo' is not a valid repository path"),
        (["check", "127.0.0.1:5000/demo/app:bad!tag"], "'bad!tag' is not a valid tag"),
        (["check", "127.0.0.1:5000/demo/app@sha256:00"], "name a repository, not a digest"),
        (["check", ""], "empty image reference"),
        (["check", "r.example/" + "a" * 256], "at most 255 characters"),
        (["check", "demo/app:1", "-p", "linux"], "'linux' is not a platform"),
        (["check", "demo/app:1", "-p", "unknown/unknown"], "attestations"),
        (["check", "demo/app:1", "--output", "yaml"], "invalid choice: 'yaml'"),
        (["wait", "demo/app", "-p", "linux/amd64"], "name the tag to wait for"),
        (["wait", "demo/app:1", "--interval", "0s"], "--interval must be longer than 0s"),
        (["wait", "demo/app:1", "--timeout", "soon"], "'soon' is not a duration"),
        (["check"], "the following arguments are required"),
    ],
)
def test_usage_errors_exit_2_with_one_line(capsys, args, reason) -> None:
    status, out, err = run(capsys, *args)

    assert (status, out) == (2, "")
    assert len(err) == 1, err
    assert err[0].startswith(f"archlag {args[0]}: ")
    assert reason in err[0]


def test_check_bad_config_file_exits_2(tmp_path, capsys) -> None:
    path = tmp_path / "archlag.yml"
    path.write_text("registries: {r.example: {insecure: maybe}}\nwatches: []\n")

    status, _, err = run(capsys, "check", "r.example/demo/app:1", "-c", str(path))

    assert status == 2
    assert err == [f"archlag: {path}: line 1: registries.r.example.insecure: must be true or false"]


def test_check_auth_failure_and_configured_credentials(tmp_path, capsys) -> None:
    with RegistryServer(tmp_path / "registry", users={"ci": "right-password"}) as registry:
        with Pusher(registry.url, auth=("ci", "right-password")) as pusher:
            publish(pusher, "1.0", "linux/amd64")
        ref = image(registry, "1.0")

        def config(password: str) -> str:
            (tmp_path / "password").write_text(password + "\n")
            path = tmp_path / "archlag.yml"
            credentials = {"username": "ci", "password_file": str(tmp_path / "password")}
            document = {"registries": {registry.host: {"insecure": True, **credentials}}}
            path.write_text(yaml.safe_dump({**document, "watches": []}))
            return str(path)

        anonymous = run(capsys, "check", ref, "--insecure", "-p", "linux/amd64")
        wrong = run(capsys, "check", ref, "-c", config("wrong-password"), "-p", "linux/amd64")
        right = run(capsys, "check", ref, "-c", config("right-password"), "-p", "linux/amd64")

    for status, out, err in (anonymous, wrong):
        assert (status, out) == (2, "")
        assert len(err) == 1
        assert err[0].startswith(f"archlag: {ref}: access denied (check the credentials")
        assert "password" not in err[0].replace("credentials", "")
    assert right[0] == 0, right


def test_check_registry_down_exits_2(registry, pusher, capsys) -> None:
    publish(pusher, "1.0", "linux/amd64")
    registry.stop()

    status, out, err = run(
        capsys, "check", image(registry, "1.0"), "--insecure", "-p", "linux/amd64"
    )

    assert (status, out) == (2, "")
    assert len(err) == 1
    assert err[0].startswith(
        f"archlag: {image(registry, '1.0')}: cannot connect to {registry.host}: "
    )


def test_check_through_the_installed_command(registry, pusher) -> None:
    publish(pusher, "1.0", "linux/amd64")

    result = subprocess.run(
        [str(ARCHLAG), "check", image(registry, "1.0"), "--insecure", "-p", "linux/amd64"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "linux/amd64  yes     present" in result.stdout


# -- wait -------------------------------------------------------------------------------------


def later(seconds: float, action) -> threading.Thread:
    """Run ``action`` in a background thread after ``seconds``."""

    def delayed() -> None:
        time.sleep(seconds)
        action()

    thread = threading.Thread(target=delayed, daemon=True)
    thread.start()
    return thread


def test_wait_returns_when_the_missing_platform_appears(registry, pusher, capsys) -> None:
    amd = pusher.push_image(REPO, "linux/amd64")
    pusher.push_index(REPO, "2.0", [amd])

    def release_arm() -> None:
        arm = pusher.push_image(REPO, "linux/arm64")
        pusher.push_index(
            REPO, "2.0", [amd, arm], attestations=[pusher.push_attestation(REPO, arm)]
        )

    thread = later(0.7, release_arm)
    started = time.monotonic()
    status, out, err = run(
        capsys,
        "wait",
        image(registry, "2.0"),
        "--insecure",
        "-p",
        "linux/amd64,linux/arm64",
        "--interval",
        "200ms",
        "--timeout",
        "20s",
        "-o",
        "json",
    )
    elapsed = time.monotonic() - started
    thread.join()

    assert status == 0
    assert elapsed >= 0.7, "it cannot succeed before the platform is pushed"
    assert err[0].startswith("waiting ")
    assert "missing: linux/arm64" in err[0]
    assert all(line.startswith("waiting ") for line in err[:-1]), "plain progress lines"
    assert err[-1].startswith(
        f"archlag: {image(registry, '2.0')}: all wanted platforms present after waiting "
    )
    document = json.loads(out)
    assert document["command"] == "wait"
    assert document["complete"] is True
    assert document["timed_out"] is False
    # Counted from wait's first look, which comes a little after the test started.
    assert 0 < document["waited_seconds"] <= elapsed


class MethodCounter:
    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()

    def request_finished(self, registry: str, method: str, result: str, seconds: float) -> None:
        self.requests[method] += 1


@pytest.mark.anyio
async def test_wait_heads_every_round_and_gets_only_new_digests(registry, pusher) -> None:
    amd = pusher.push_image(REPO, "linux/amd64")
    pusher.push_index(REPO, "2.0", [amd])
    counter = MethodCounter()
    looks: list[Report] = []
    ref = parse_reference(image(registry, "2.0"))
    client = open_client(Config(), registry.host, insecure=True, retry=NO_RETRY, observer=counter)

    def release_arm() -> None:
        pusher.push_index(REPO, "2.0", [amd, pusher.push_image(REPO, "linux/arm64")])

    thread = later(0.7, release_arm)
    async with client:
        result = await gate.wait(
            gate.RegistryLooker(client),
            ref,
            Wanted(frozenset({AMD, ARM}), gate.FROM_FLAGS),
            give_up_after=20,
            interval=0.2,
            on_round=lambda report, _: looks.append(report),
        )
    await anyio.to_thread.run_sync(thread.join)

    assert result.report.complete
    assert not result.timed_out
    assert len(looks) >= 4
    assert counter.requests["HEAD"] == len(looks), "one HEAD per round"
    assert counter.requests["GET"] == 2, "a GET only for the first digest and the changed one"


def test_wait_times_out_with_what_is_still_missing(registry, pusher, capsys) -> None:
    publish(pusher, "3.0", "linux/amd64")

    started = time.monotonic()
    status, out, err = run(
        capsys,
        "wait",
        image(registry, "3.0"),
        "--insecure",
        "-p",
        "linux/amd64",
        "-p",
        "linux/arm/v7",
        "--interval",
        "200ms",
        "--timeout",
        "700ms",
    )

    assert status == 1
    assert time.monotonic() - started >= 0.7, "it waited out the whole timeout"
    assert err[-1] == (
        f"archlag: {image(registry, '3.0')}: timed out after 700ms; still missing: linux/arm/v7"
    )
    assert len(err) >= 4, "progress lines at 0, 200, 400, 600 and 700 ms"
    assert re.search(r"^waited  7\d\dms$", out, re.MULTILINE)
    assert "linux/arm/v7  yes     MISSING" in out


def test_wait_for_a_tag_that_does_not_exist_yet(registry, pusher, capsys) -> None:
    thread = later(0.5, lambda: publish(pusher, "4.0", "linux/amd64"))

    status, _, err = run(
        capsys,
        "wait",
        image(registry, "4.0"),
        "--insecure",
        "-p",
        "linux/amd64",
        "--interval",
        "200ms",
        "--timeout",
        "20s",
    )
    thread.join()

    assert status == 0
    assert "tag not found yet" in err[0]


def test_wait_registry_down_exits_2(registry, capsys) -> None:
    registry.stop()

    status, out, err = run(
        capsys,
        "wait",
        image(registry, "1.0"),
        "--insecure",
        "-p",
        "linux/amd64",
        "--interval",
        "200ms",
        "--timeout",
        "5s",
    )

    assert (status, out) == (2, "")
    assert len(err) == 1, "no progress line before the first look succeeds"
    assert "cannot connect to" in err[0]


def test_wait_rides_out_a_registry_outage(registry, pusher, capsys) -> None:
    publish(pusher, "5.0", "linux/amd64")

    def outage() -> None:
        # Only once wait's first look is done (its first progress line): a first look that
        # fails is an error by design, whereas this test is about the rounds after it.
        captured, deadline = sys.stderr, time.monotonic() + 15
        while not captured.getvalue() and time.monotonic() < deadline:
            time.sleep(0.02)
        registry.stop()
        time.sleep(0.5)
        registry.start()
        publish(pusher, "5.0", "linux/amd64", "linux/arm64")

    thread = later(0.0, outage)
    status, _, err = run(
        capsys,
        "wait",
        image(registry, "5.0"),
        "--insecure",
        "-p",
        "linux/amd64,linux/arm64",
        "--interval",
        "150ms",
        "--timeout",
        "20s",
    )
    thread.join()

    assert status == 0, err
    assert any("cannot connect to" in line and "trying again" in line for line in err)


def test_wait_ctrl_c_exits_130(registry, pusher) -> None:
    publish(pusher, "6.0", "linux/amd64")
    process = subprocess.Popen(
        [
            str(ARCHLAG),
            "wait",
            image(registry, "6.0"),
            "--insecure",
            "-p",
            "linux/amd64,linux/arm64",
            "--interval",
            "200ms",
            "--timeout",
            "1m",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        first = process.stderr.readline()  # the first round is done: Ctrl-C lands mid-wait
        process.send_signal(signal.SIGINT)
        out, rest = process.communicate(timeout=10)
    finally:
        process.kill()

    assert "missing: linux/arm64" in first
    assert process.returncode == 130
    assert out == ""
    last = rest.splitlines()[-1]
    assert last.startswith("archlag: interrupted after ")
    assert last.endswith(f"{image(registry, '6.0')}: still missing: linux/arm64")
    assert "Traceback" not in rest


# -- output (pure) ----------------------------------------------------------------------------


def report_of(platforms: dict[str, str], wanted: list[str], tag: str = "1.0") -> Report:
    content = TagContent(
        "sha256:" + "a" * 64,
        "application/vnd.oci.image.index.v1+json",
        {parse_platform(p): d for p, d in platforms.items()},
    )
    expected = frozenset(parse_platform(p) for p in wanted)
    return Report(parse_reference(f"r.example/demo/app:{tag}"), Wanted(expected, "x"), content)


def test_json_document_keys_are_stable() -> None:
    document = json.loads(gate_output.as_json(report_of({}, ["linux/amd64"]), "check"))

    assert list(document) == [
        "schema_version",
        "command",
        "image",
        "registry",
        "repository",
        "tag",
        "found",
        "digest",
        "media_type",
        "expected",
        "expected_from",
        "learned_from",
        "platforms",
        "missing",
        "complete",
        "waited_seconds",
        "timed_out",
        "via",
    ]
    assert document["schema_version"] == 1
    assert document["platforms"] == [
        {
            "platform": "linux/amd64",
            "expected": True,
            "present": False,
            "digest": None,
            "first_seen": None,
            "delay_seconds": None,
            "delay_uncertainty_seconds": None,
            "first_seen_source": None,
            "expected_by": None,
            "late_after": None,
            "late": None,
        }
    ]


def test_table_stays_within_80_columns_with_long_platforms() -> None:
    long_platform = "linux/" + "a" * 60 + "/v" + "9" * 40
    digest = "sha256:" + "b" * 64
    wanted = ["linux/amd64", "linux/arm64", "linux/arm/v7", "linux/ppc64le", "linux/s390x"]
    report = report_of({long_platform: digest, "linux/amd64": digest}, [*wanted, "linux/riscv64"])

    text = gate_output.table(report, waited=3725)

    assert all(len(line) <= 80 for line in text.splitlines()), text
    assert "waited  1h2m5s" in text
    assert "linux/aaaa" in text
    assert "a...  no      present" in text


def test_progress_rewrites_one_line_on_a_terminal() -> None:
    stream = io.StringIO()
    line = gate_output.ProgressLine(stream, terminal=True)
    report = report_of({"linux/amd64": "sha256:" + "c" * 64}, ["linux/amd64", "linux/arm64"])

    line.update(gate_output.progress(report, 65))
    line.update(gate_output.progress(report, 5))
    line.finish()

    first = "waiting 1m5s: 1 of 2 present (linux/amd64); missing: linux/arm64"
    second = "waiting 5s: 1 of 2 present (linux/amd64); missing: linux/arm64"
    assert stream.getvalue() == f"\r{first}\r{second}  \n"


def test_progress_is_plain_lines_elsewhere() -> None:
    stream = io.StringIO()
    line = gate_output.ProgressLine(stream, terminal=False)

    line.update("one")
    line.update("two")
    line.finish()

    assert stream.getvalue() == "one\ntwo\n"


def test_the_exporter_command_line_is_unchanged(tmp_path: Path, capsys) -> None:
    path = tmp_path / "check.yml"  # a file named like a subcommand is still a config file
    path.write_text("watches: [{image: gotify/server}]\n")

    assert main(["-c", str(path), "--config.check"]) == 0
    assert "configuration is valid (1 watches)" in capsys.readouterr().out
