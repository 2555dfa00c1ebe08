"""Attacks on what archlag reads besides registries: its configuration, its state file and the
requests its own endpoints get. Each runs the real ``archlag`` command and asserts what a user
sees: the exit status and a one-line message (never a traceback), or an answer that is not a
500 while the process keeps serving.

=================================  ====================================  ========================
attack                             what archlag is given                 archlag must
=================================  ====================================  ========================
config nested 100,000 deep         ``a: [[[...]]]``                      exit 2, "nests deeper"
config with a 400-digit duration   ``interval: 999...9s``                exit 2, key path
config with a number of 400 digits ``latency_buckets: [1e400]``          exit 2, key path
billion laughs                     nine levels of aliases                exit 2, "YAML nodes"
a 5 MiB config                     a comment of 5 MiB                    exit 2, "larger than"
binary config                      NUL bytes                             exit 2, "not valid YAML"
config that is not UTF-8           ``\xff\xfe``                          exit 2, "cannot read"
backreference / look-ahead regex   ``(a)\1``, ``(?=a)``                  exit 2, key path, reason
a 1,001-character regex            ``a{1001}``                           exit 2, key path
token_env with a control character ``abc\x1bdef`` in the variable        exit 2, key named, value
                                                                         never printed
token_file with two newlines       ``token\n\n``                         exit 2, value never
                                                                         printed
a 65 KiB secret file               token_file                            exit 2
an inline password                 ``password: ...``                     exit 2, value never
                                                                         printed
listen ``[::1``                    ``--web.listen-address``              exit 2
read-only state file               mode 0444 (also as root)              exit 1, file, reason
state file that is a directory     ``state_file: DIR``                   exit 1, file, reason
state file that is a device        ``/dev/zero``                         exit 1, file, reason
state file in a missing directory  ``/nowhere/state.db``                 exit 1, directory named
state file that is not SQLite      1 KiB of text                         exit 1, left untouched
state file truncated               half of a real state file             exit 1, left untouched
state file of a newer archlag      ``user_version`` 99                   exit 1, "newer"
state file in use                  a second archlag on it                exit 1, the holder
listen address in use              a port taken                          exit 1, the address
disk full under a running archlag  tmpfs filled while it polls           serve on, status error,
                                                                         recover when freed, no
                                                                         first-seen time lost
restart on a full disk             the same tmpfs, full, at start        exit 1, "disk ... full"
``/?refresh=²`` and kin            ``²``, ``-5``, 20 digits, ``%00``     400, never 500
API queries                        NUL, 10,000 characters, 1,000         400 or 404, never 500
                                   platforms, ``..%2f``
hostile HTTP clients               a garbage request line, a 1 MiB       archlag serves on,
                                   header, 500 pipelined scrapes, a      ``/-/healthy`` answers
                                   lying Content-Length
200 slowloris connections          headers one byte a second             ``/-/healthy`` answers
=================================  ====================================  ========================
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import running_registry
from tests.support.archlag_process import ARCHLAG, ArchlagProcess, Scrape
from tests.support.planted import printed_forms
from tests.support.pusher import Pusher
from tests.support.registry_server import RegistryServer

pytestmark = pytest.mark.integration

WATCH = "watches:\n  - image: 127.0.0.1:9/demo/app\n"
BOTH = ["linux/amd64", "linux/arm64"]
QUICK_CHECK = (
    "import sqlite3; print(sqlite3.connect('{state}').execute('pragma quick_check').fetchone()[0])"
)
PLANTED = "planted-Tok3n-Zz"


def nested(depth: int) -> str:
    return "a: " + "[" * depth + "]" * depth + "\n"


def billion_laughs() -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        refs = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + "\n" + WATCH


CONFIGS = {
    "nested-100k": (nested(100_000), "nests deeper than 64 levels"),
    "duration-400-digits": (
        f"defaults:\n  interval: {'9' * 400}s\n{WATCH}",
        "defaults.interval",
    ),
    "number-400-digits": (f"latency_buckets: [1e400]\n{WATCH}", "latency_buckets"),
    "billion-laughs": (billion_laughs(), "YAML nodes"),
    "five-mib": ("#" + "x" * (5 << 20) + "\n" + WATCH, "larger than 4 MiB"),
    "binary": ("\x00\x01\x02" * 100, "not valid YAML"),
    "backreference": (
        f'defaults:\n  tags:\n    include: ["(a)\\\\1"]\n{WATCH}',
        "defaults.tags.include[0]",
    ),
    "look-ahead": (
        f'defaults:\n  tags:\n    include: ["(?=a)a"]\n{WATCH}',
        "defaults.tags.include[0]",
    ),
    "long-regex": (
        f'defaults:\n  tags:\n    exclude: ["{"a" * 1001}"]\n{WATCH}',
        "defaults.tags.exclude[0]",
    ),
    "inline-password": (
        f"registries:\n  127.0.0.1:9:\n    username: u\n    password: {PLANTED}\n{WATCH}",
        "inline passwords are not accepted",
    ),
}


def run_config(
    tmp_path: Path, text: str | bytes, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "archlag.yml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    command = [str(ARCHLAG), "-c", str(path), *args]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **env},
        cwd=tmp_path,
    )


def assert_refused(result: subprocess.CompletedProcess[str], status: int, *texts: str) -> None:
    assert result.returncode == status, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("archlag:")]
    assert lines, result.stderr
    for text in texts:
        assert text in result.stderr, result.stderr


@pytest.mark.parametrize("case", CONFIGS, ids=str)
def test_a_hostile_config_exits_2_with_a_message(tmp_path: Path, case: str) -> None:
    text, message = CONFIGS[case]
    result = run_config(tmp_path, text)
    assert_refused(result, 2, message)
    assert not [form for form in printed_forms(PLANTED) if form in result.stderr]


def test_a_config_that_is_not_utf8_exits_2(tmp_path: Path) -> None:
    assert_refused(run_config(tmp_path, b"\xff\xfe" + WATCH.encode()), 2, "cannot read")


@pytest.mark.parametrize(
    ("how", "value"),
    [
        ("token_env", "abc\x1bdef" + PLANTED),
        ("token_file", PLANTED + "\n\n"),
        ("token_file", PLANTED * 5000),
    ],
    ids=["env-control-character", "file-two-newlines", "file-65-kib"],
)
def test_a_secret_that_cannot_be_sent_exits_2_without_printing_it(
    tmp_path: Path, how: str, value: str
) -> None:
    source = "ARCHLAG_PLANTED_TOKEN"
    env = {}
    if how == "token_env":
        env[source] = value
    else:
        source = str(tmp_path / "token")
        Path(source).write_text(value, encoding="utf-8")
    text = f"registries:\n  127.0.0.1:9:\n    {how}: {source}\n{WATCH}"
    result = run_config(tmp_path, text, **env)
    assert_refused(result, 2, f"registries.127.0.0.1:9.{how}")
    assert not [form for form in printed_forms(PLANTED) if form in result.stderr]


def test_a_listen_address_that_is_not_one_exits_2(tmp_path: Path) -> None:
    result = run_config(tmp_path, WATCH, "--web.listen-address", "[::1")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "is not host:port" in result.stderr


# -- the state file -----------------------------------------------------------------------------


def state_config(state: str | Path) -> str:
    return f"state_file: {state}\n{WATCH}"


def real_state_file(tmp_path: Path) -> Path:
    """A state file with one repository in it, written by archlag's own store."""
    state = tmp_path / "real.db"
    script = (
        "from archlag.store import SQLiteStore, PollRecord;"
        "from archlag.core.figures import WatchFigures;"
        f"s = SQLiteStore({str(state)!r});"
        "s.save(PollRecord('127.0.0.1:9', 'demo/app', WatchFigures(baseline_done=True,"
        " last_poll_success=1.0), listed_added={f'1.{i}': 1.0 for i in range(2000)}));"
        "s.close()"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    return state


def test_a_read_only_state_file_exits_1_naming_it(tmp_path: Path) -> None:
    state = real_state_file(tmp_path)
    state.chmod(0o444)
    result = run_config(tmp_path, state_config(state), "--web.listen-address", "127.0.0.1:9")
    assert_refused(result, 1, f"state file {state} is read-only (mode 0444)")


@pytest.mark.parametrize("kind", ["directory", "device", "missing-directory"])
def test_a_state_file_that_is_no_file_exits_1_naming_it(tmp_path: Path, kind: str) -> None:
    state, message = {
        "directory": (tmp_path, f"state file {tmp_path} is not a regular file"),
        "device": (Path("/dev/zero"), "state file /dev/zero is not a regular file"),
        "missing-directory": (
            tmp_path / "nowhere" / "state.db",
            f"its directory {tmp_path / 'nowhere'} does not exist",
        ),
    }[kind]
    result = run_config(tmp_path, state_config(state), "--web.listen-address", "127.0.0.1:9")
    assert_refused(result, 1, message)


@pytest.mark.parametrize("kind", ["text", "truncated", "newer"])
def test_a_state_file_archlag_cannot_read_is_refused_and_left_untouched(
    tmp_path: Path, kind: str
) -> None:
    state = tmp_path / "state.db"
    if kind == "text":
        state.write_bytes(b"not an archlag state file\n" * 40)
        message = "not an archlag state file"
    elif kind == "truncated":
        data = real_state_file(tmp_path).read_bytes()
        state.write_bytes(data[: len(data) // 2])
        message = f"state file {state}: cannot use it: database disk image is malformed"
    else:
        with sqlite3.connect(state) as db:
            db.execute("PRAGMA user_version = 99")
        message = "newer than this archlag understands"
    before = state.read_bytes()
    result = run_config(tmp_path, state_config(state), "--web.listen-address", "127.0.0.1:9")
    assert_refused(result, 1, message)
    assert state.read_bytes() == before, "the file was left as it was"


def test_a_state_file_in_use_exits_1_naming_the_holder(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    with ArchlagProcess(
        tmp_path, {"state_file": str(state), "watches": [{"image": "127.0.0.1:9/demo/app"}]}
    ) as first:
        assert first.process is not None
        result = run_config(tmp_path, state_config(state), "--web.listen-address", "127.0.0.1:9")
        assert_refused(
            result, 1, f"state file {state} is in use by archlag pid {first.process.pid}"
        )


def test_a_listen_address_in_use_exits_1_naming_it(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        result = run_config(
            tmp_path, state_config(tmp_path / "s.db"), "--web.listen-address", address
        )
    assert_refused(result, 1, f"cannot serve on {address}")


# -- a disk that fills under a running archlag, and a restart on it ------------------------------


def in_a_small_filesystem(script: str, directory: Path, size: str = "8m") -> subprocess.Popen[str]:
    """Start a shell script with a tmpfs of ``size`` mounted on ``directory``, in a private
    mount namespace (as root, or as a user mapped to root): only the script sees the mount."""
    namespace = ["--mount"] if os.geteuid() == 0 else ["--user", "--map-root-user", "--mount"]
    prelude = f"mount -t tmpfs -o size={size} tmpfs {directory}\n"
    return subprocess.Popen(
        ["unshare", *namespace, "sh", "-ec", prelude + script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_file(path: Path, process: subprocess.Popen[str], seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"no {path.name}: {process.communicate(timeout=10)}")
        time.sleep(0.1)
    return path.read_text()


def test_a_disk_that_fills_under_archlag_stops_nothing_and_loses_nothing(
    registry: RegistryServer, pusher: Pusher, tmp_path: Path
) -> None:
    disk, flags = tmp_path / "disk", tmp_path / "flags"
    disk.mkdir()
    flags.mkdir()
    state = disk / "state.db"
    # The script runs archlag; this object gives its port, its log and scrape().
    archlag = ArchlagProcess(tmp_path, {})
    config = {
        "state_file": str(state),
        "defaults": {"interval": "300ms", "stall_after": "1h"},
        "registries": {registry.host: {"insecure": True}},
        "watches": [{"image": f"{registry.host}/demo/app", "platforms": BOTH}],
    }
    archlag.config_path.write_text(json.dumps(config))
    run = f"{ARCHLAG} -c {archlag.config_path} --web.listen-address 127.0.0.1:{archlag.port}"
    fill = f"head -c 100000000 /dev/zero > {disk}/filler 2>/dev/null || true"
    script = f"""
    until_flag() {{
      i=0; while [ ! -e {flags}/$1 ] && [ $i -lt 900 ]; do sleep 0.1; i=$((i+1)); done
    }}
    {run} 2>> {archlag.log_path} &
    pid=$!
    until_flag fill; {fill}; touch {flags}/filled
    until_flag free; rm -f {disk}/filler; touch {flags}/freed
    until_flag stop; kill -TERM $pid
    status=0; wait $pid || status=$?; echo $status > {flags}/stopped
    {fill}
    status=0; {run} 2> {tmp_path}/restart.log || status=$?; echo $status > {flags}/restarted
    rm -f {disk}/filler
    {sys.executable} -c "{QUICK_CHECK.format(state=state)}"
    """
    publish(pusher, "1.0")
    process = in_a_small_filesystem(script, disk)
    try:
        scrape = archlag_wait(archlag, lambda s: complete(s, registry, "1.0"), "1.0 recorded")
        before = scrape.series("archlag_tag_platform_first_seen_timestamp_seconds")
        (flags / "fill").touch()
        wait_for_file(flags / "filled", process)
        publish(pusher, "1.1")
        scrape = archlag_wait(archlag, lambda s: status(s, registry) == "error", "status error")
        assert httpx.get(f"{archlag.url}/-/healthy", timeout=5).status_code == 200
        log = archlag.log_path.read_text()
        assert "the disk holding it is full" in log, "the log names the problem"
        (flags / "free").touch()
        wait_for_file(flags / "freed", process)
        scrape = archlag_wait(archlag, lambda s: complete(s, registry, "1.1"), "1.1 recorded")
        assert status(scrape, registry) == "ok"
        after = scrape.series("archlag_tag_platform_first_seen_timestamp_seconds")
        assert before.items() <= after.items(), "no first-seen time lost or changed"
        (flags / "stop").touch()
        assert wait_for_file(flags / "stopped", process).strip() == "0", "a clean shutdown"
        assert wait_for_file(flags / "restarted", process).strip() == "1"
        restart = (tmp_path / "restart.log").read_text()
        assert f"archlag: state file {state}: the disk holding it is full" in restart
        assert "Traceback" not in restart
        out, err = process.communicate(timeout=30)
        assert out.strip().endswith("ok"), f"the state file is intact: {out} {err}"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def publish(pusher: Pusher, tag: str) -> None:
    pusher.publish("demo/app", tag, *BOTH)


def complete(scrape: Scrape, registry: RegistryServer, tag: str) -> bool:
    labels = {"registry": registry.host, "repository": "demo/app", "tag": tag}
    return scrape.value("archlag_tag_complete", **labels) == 1


def status(scrape: Scrape, registry: RegistryServer) -> str | None:
    states = scrape.series("archlag_watch_status", registry=registry.host, repository="demo/app")
    return next((dict(k)["status"] for k, v in states.items() if v == 1), None)


def archlag_wait(archlag: ArchlagProcess, condition: Callable[[Scrape], bool], what: str) -> Scrape:
    """Like ArchlagProcess.wait_for, for a process that starts without ``start()``."""
    deadline = time.monotonic() + 30
    while True:
        try:
            scrape = archlag.scrape()
        except httpx.HTTPError:
            scrape = None
        if scrape is not None and condition(scrape):
            return scrape
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{archlag.log_tail()}")
        time.sleep(0.2)


# -- archlag's own endpoints ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ArchlagProcess, str]]:
    """A running archlag watching a real registry with one complete tag, and that image."""
    workdir = tmp_path_factory.mktemp("endpoints")
    with running_registry(workdir / "registry") as registry, Pusher(registry.url) as pusher:
        publish(pusher, "1.0")
        config = {
            "state_file": str(workdir / "state.db"),
            "defaults": {"interval": "1s"},
            "registries": {registry.host: {"insecure": True}},
            "watches": [{"image": f"{registry.host}/demo/app"}],
        }
        with ArchlagProcess(workdir, config) as archlag:
            archlag_wait(archlag, lambda s: complete(s, registry, "1.0"), "1.0 recorded")
            yield archlag, f"{registry.host}/demo/app"


BAD_QUERIES = [
    "/?refresh=²",
    "/?refresh=-5",
    "/?refresh=" + "9" * 20,
    "/?refresh=%00",
    "/?refresh=1e3",
    "/api/v1/tags",
    "/api/v1/tags?image=%00",
    "/api/v1/tags?image=" + "a" * 10_000,
    "/api/v1/tags?image={image}&platform=" + ",".join(["linux/amd64"] * 1000),
    "/api/v1/tags?image={image}&platform=linux%2F..%2F..",
    "/api/v1/tags?image={image}:%0a",
    "/api/v1/renovate/%2e%2e%2f%2e%2e",
    "/api/v1/renovate/" + "a" * 10_000,
    "/api/v1/tags?image=nginx",
]


@pytest.mark.parametrize("path", BAD_QUERIES, ids=lambda p: p[:40])
def test_a_bad_query_is_answered_4xx_never_500(
    served: tuple[ArchlagProcess, str], path: str
) -> None:
    archlag, image = served
    response = httpx.get(archlag.url + path.replace("{image}", image), timeout=10)
    assert response.status_code in (400, 404), response.text[:200]
    assert "Traceback" not in response.text
    assert httpx.get(f"{archlag.url}/-/healthy", timeout=5).status_code == 200


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"\x00\xff GET / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" * 500,
        b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\nabc",
    ],
    ids=["garbage-request-line", "one-mib-header", "500-pipelined-scrapes", "lying-length"],
)
def test_a_hostile_client_leaves_archlag_serving(
    served: tuple[ArchlagProcess, str], request_bytes: bytes
) -> None:
    archlag, _ = served
    with (
        socket.create_connection(("127.0.0.1", archlag.port), timeout=10) as client,
        contextlib.suppress(OSError),
    ):
        client.sendall(request_bytes)
        client.shutdown(socket.SHUT_WR)
        while client.recv(1 << 16):
            pass
    assert archlag.process is not None
    assert archlag.process.poll() is None
    assert httpx.get(f"{archlag.url}/-/healthy", timeout=5).status_code == 200


def test_slowloris_clients_leave_healthy_answering(served: tuple[ArchlagProcess, str]) -> None:
    archlag, _ = served
    clients = []
    try:
        # The attacker is one client (127.0.0.2), the prober another (127.0.0.1): past its 64
        # connections (--web.max-connections-per-client) the attacker's are closed at once.
        for _ in range(200):
            client = socket.create_connection(
                ("127.0.0.1", archlag.port), timeout=10, source_address=("127.0.0.2", 0)
            )
            with contextlib.suppress(OSError):
                client.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            clients.append(client)
        for round_ in range(5):  # every client sends one more header byte a second
            for client in clients:
                with contextlib.suppress(OSError):
                    client.sendall(b"x" if round_ else b"X-Slow: ")
            answer = httpx.get(f"{archlag.url}/-/healthy", timeout=5)
            assert answer.status_code == 200, "healthy while 200 clients trickle"
            time.sleep(1)
    finally:
        for client in clients:
            client.close()
    assert archlag.process is not None
    assert archlag.process.poll() is None
    shed = archlag.scrape().value(
        "archlag_http_connections_shed_total", listener="main", reason="client_full"
    )
    assert shed is not None
    assert shed > 0, "the attacker's connections past its bound were shed"
