"""podman and buildah for the tests, configured here, apart from the machine's own configuration.

Every test that builds or runs a container goes through this module. It writes its own
``containers.conf``, ``storage.conf`` and ``registries.conf`` and points podman and buildah at
them (``CONTAINERS_CONF``, ``CONTAINERS_STORAGE_CONF``, ``CONTAINERS_REGISTRIES_CONF``), so that
no file under /etc/containers is read for these settings or changed:

- ``runtime = "runc"``: crun refuses this machine's hybrid cgroups (v1 with a v2 ``unified``);
- ``cgroup_manager = "cgroupfs"`` and ``events_logger = "file"``: no systemd or journald here;
- ``default_ulimits`` nofile 20000 and nproc 32768: podman's defaults are above the hard limits
  this machine gives, and runc then refuses to start anything ("error setting rlimits");
- ``netns = "host"``: containers share the machine's network unless a test says otherwise;
- no unqualified search registries: nothing is ever pulled from Docker Hub by a short name.

Two kinds of store, both under ``cache_dir()/podman`` (outside the checkout):

- the image cache (``images/``): images that take long to make (the Debian base, the busybox
  image), made once per machine and read by every later run; :func:`cached_image` writes it
  under a file lock, so concurrent runs make an image once;
- one store per pytest session (``sessions/<pid>/``): the containers, volumes and images of this
  run, with the image cache as an additional, read-only image store. :func:`end_session`
  removes it with its containers; a store whose pytest is gone (killed) is removed by the next
  :func:`start_session`. Runs on the machine never see each other's containers.

Where no systemd runs, podman cannot schedule health checks; :func:`health_flags` turns the
schedule off (``podman healthcheck run`` still runs the image's check by hand).

Errors:

    PodmanError               base class
    ├── PodmanMissingError    podman, buildah, runc or conmon is not installed
    └── PodmanCommandError    a command exited non-zero or ran out of time; the message names
                              the command and ends with the tail of its output
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.paths import cache_dir

__all__ = [
    "COMMAND_TIMEOUT",
    "Podman",
    "PodmanCommandError",
    "PodmanError",
    "PodmanMissingError",
    "cached_image",
    "end_session",
    "health_flags",
    "image_cache",
    "open_store",
    "prune_stale_sessions",
    "start_session",
    "systemd_runs",
]

COMMAND_TIMEOUT = 120.0  # seconds for one podman or buildah command, unless the caller says
_TOOLS = {"podman": "podman", "buildah": "buildah", "runc": "runc", "conmon": "conmon"}
_OUTPUT_TAIL_LINES = 30
_NO_OVERLAY_ON = {"overlay", "aufs"}  # overlay cannot stack on these


class PodmanError(RuntimeError):
    """Base class of the errors raised here."""


class PodmanMissingError(PodmanError):
    """A tool this module needs is not installed."""


class PodmanCommandError(PodmanError):
    """A podman or buildah command failed; the message ends with the tail of its output."""


def _tail(text: str) -> str:
    return "\n".join(text.strip().splitlines()[-_OUTPUT_TAIL_LINES:])


@dataclass(frozen=True, slots=True)
class Podman:
    """podman and buildah over one store, with the configuration written in ``directory``."""

    directory: Path
    env: Mapping[str, str]

    def podman(
        self, *args: str, timeout: float = COMMAND_TIMEOUT, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run ``podman ARGS``; a failure raises :class:`PodmanCommandError` unless not
        ``check``."""
        return self._run(["podman", *args], timeout, check)

    def buildah(
        self, *args: str, timeout: float = COMMAND_TIMEOUT, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run ``buildah ARGS`` (same store and configuration as :meth:`podman`)."""
        return self._run(["buildah", *args], timeout, check)

    def popen(self, *args: str, log: Path) -> subprocess.Popen[bytes]:
        """Start ``podman ARGS`` in the background, its output appended to ``log``."""
        with log.open("ab") as out:
            return subprocess.Popen(
                ["podman", *args], stdout=out, stderr=subprocess.STDOUT, env=dict(self.env)
            )

    def image_exists(self, reference: str) -> bool:
        return self.podman("image", "exists", reference, check=False).returncode == 0

    def inspect(self, kind: str, name: str) -> dict[str, Any]:
        """``podman KIND inspect NAME`` (kind: image, container, volume) as a dict."""
        result = self.podman(kind, "inspect", name)
        found: list[dict[str, Any]] = json.loads(result.stdout)
        return found[0]

    def _run(
        self, argv: list[str], timeout: float, check: bool
    ) -> subprocess.CompletedProcess[str]:
        try:
            result = subprocess.run(
                argv,
                check=False,
                capture_output=True,
                text=True,
                env=dict(self.env),
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as error:
            output = (error.stderr or b"").decode(errors="replace")  # bytes despite text=True
            raise PodmanCommandError(
                f"{' '.join(argv)}: still running after {timeout:g} s\n{_tail(output)}"
            ) from None
        if check and result.returncode != 0:
            raise PodmanCommandError(
                f"{' '.join(argv)}: exit status {result.returncode}\n"
                f"{_tail(result.stdout + result.stderr)}"
            )
        return result


def check_tools() -> None:
    """Raise :class:`PodmanMissingError` naming every missing tool and its Debian package."""
    missing = [f"{name} ({package})" for name, package in _TOOLS.items() if not shutil.which(name)]
    if missing:
        raise PodmanMissingError(
            f"not installed: {', '.join(missing)}; scripts/test installs the Debian packages"
        )


def systemd_runs() -> bool:
    """True when systemd is the init system (what ``sd_booted()`` checks)."""
    return Path("/run/systemd/system").is_dir()


def _fstype(path: Path) -> str:
    """The filesystem type of the mount holding ``path`` (from /proc/self/mountinfo)."""
    best, fstype = -1, ""
    resolved = str(path.resolve())
    with open("/proc/self/mountinfo", encoding="utf-8") as mountinfo:
        for line in mountinfo:
            fields, _, rest = line.partition(" - ")
            mount_point = fields.split()[4].replace("\\040", " ")
            inside = resolved == mount_point or resolved.startswith(mount_point.rstrip("/") + "/")
            if inside and len(mount_point) > best:
                best, fstype = len(mount_point), rest.split()[0]
    return fstype


def _storage_options(graphroot: Path) -> tuple[str, str | None]:
    """The storage driver for a store at ``graphroot``, and fuse-overlayfs when the kernel's
    overlay cannot stack on the filesystem there (a CI job inside a container)."""
    if _fstype(graphroot.parent) not in _NO_OVERLAY_ON:
        return "overlay", None
    if Path("/dev/fuse").exists() and shutil.which("fuse-overlayfs"):
        return "overlay", shutil.which("fuse-overlayfs")
    return "vfs", None


def _toml_string(value: str | Path) -> str:
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def open_store(directory: Path, *, image_store: Path | None = None) -> Podman:
    """Write the configuration of a store in ``directory`` (created) and return its
    :class:`Podman`; ``image_store`` is another store's graph root, read as an additional
    image store."""
    check_tools()
    conf = directory / "conf"
    for sub in (conf, directory / "graph", directory / "run", directory / "tmp", directory / "cni"):
        sub.mkdir(parents=True, exist_ok=True)
    driver, mount_program = _storage_options(directory / "graph")
    storage = [
        "[storage]",
        f"driver = {_toml_string(driver)}",
        f"graphroot = {_toml_string(directory / 'graph')}",
        f"runroot = {_toml_string(directory / 'run')}",
        "[storage.options]",
        f"additionalimagestores = [{_toml_string(image_store) if image_store else ''}]",
    ]
    if mount_program:
        storage += ["[storage.options.overlay]", f"mount_program = {_toml_string(mount_program)}"]
    (conf / "storage.conf").write_text("\n".join(storage) + "\n", encoding="utf-8")
    (conf / "containers.conf").write_text(
        "\n".join(
            [
                "[containers]",
                'netns = "host"',
                'log_driver = "k8s-file"',
                'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]',
                "[engine]",
                'runtime = "runc"',
                'cgroup_manager = "cgroupfs"',
                'events_logger = "file"',
                f"events_logfile_path = {_toml_string(directory / 'events.log')}",
                f"tmp_dir = {_toml_string(directory / 'tmp')}",
                "[network]",
                f"network_config_dir = {_toml_string(directory / 'cni')}",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    (conf / "registries.conf").write_text(
        'unqualified-search-registries = []\nshort-name-mode = "enforcing"\n', encoding="utf-8"
    )
    return _configured(directory)


def _configured(directory: Path) -> Podman:
    """The :class:`Podman` of a store whose configuration is written."""
    conf = directory / "conf"
    env = {
        **os.environ,
        "CONTAINERS_CONF": str(conf / "containers.conf"),
        "CONTAINERS_STORAGE_CONF": str(conf / "storage.conf"),
        "CONTAINERS_REGISTRIES_CONF": str(conf / "registries.conf"),
    }
    return Podman(directory, env)


def _podman_root() -> Path:
    return cache_dir() / "podman"


def image_cache() -> Podman:
    """The store of images kept across runs."""
    return open_store(_podman_root() / "images")


@contextmanager
def _cache_lock() -> Iterator[None]:
    path = _podman_root() / "images.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


def cached_image(reference: str, make: Callable[[Podman], None]) -> str:
    """Return ``reference`` after making it in the image cache with ``make`` unless it is there.

    Make it under a tag that says what it holds (a pinned release, a content hash): a new tag
    is a new image, and the repository's other tags are removed once it is made (skipped while
    a container of another run still uses them).
    """
    with _cache_lock():
        cache = image_cache()
        if cache.image_exists(reference):
            return reference
        make(cache)
        if not cache.image_exists(reference):
            raise PodmanError(f"making {reference} in the image cache left no such image")
        repository = reference.rpartition(":")[0]
        listed = cache.podman("images", "--format", "{{.Repository}}:{{.Tag}}", repository)
        for old in set(listed.stdout.split()) - {reference}:
            cache.podman("rmi", old, check=False)
        return reference


def _process_start(pid: int) -> str | None:
    """The start time of process ``pid`` (clock ticks since boot), or None if there is none:
    a pid alone could be a new process's."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[19]


def start_session() -> Podman:
    """A fresh store for this process (a pytest session), reading the image cache; the stores
    of runs that are gone are removed first (:func:`prune_stale_sessions`)."""
    prune_stale_sessions()
    directory = _podman_root() / "sessions" / str(os.getpid())
    _remove_store(directory)
    podman = open_store(directory, image_store=image_cache().directory / "graph")
    (directory / "owner").write_text(f"{os.getpid()} {_process_start(os.getpid())}\n")
    return podman


def prune_stale_sessions() -> list[Path]:
    """Remove the session stores whose process is gone (a killed pytest), with their
    containers; return their directories."""
    sessions = _podman_root() / "sessions"
    sessions.mkdir(parents=True, exist_ok=True)
    removed = []
    for stale in sessions.iterdir():
        try:
            pid, start = (stale / "owner").read_text(encoding="utf-8").split()
            alive = _process_start(int(pid)) == start
        except (OSError, ValueError):
            alive = False  # no owner yet: a store being made, or one whose making failed
        if not alive:
            _remove_store(stale)
            removed.append(stale)
    return removed


def end_session(podman: Podman) -> None:
    """Remove the session's containers, volumes and store."""
    _remove_store(podman.directory)


def _remove_store(directory: Path) -> None:
    """Remove a store; its containers first, which keep layers mounted and processes alive."""
    if (directory / "conf" / "containers.conf").is_file():
        _configured(directory).podman("rm", "--all", "--force", "--time", "0", check=False)
    shutil.rmtree(directory, ignore_errors=True)


def health_flags(podman: Podman, image: str) -> list[str]:
    """``podman run`` options that keep ``image``'s HEALTHCHECK but schedule no run of it when
    systemd does not run (podman schedules them with systemd timers).

    podman 4.3 (Debian 12) applies ``--health-interval disable`` only together with
    ``--health-cmd``, so the image's own check is restated, with its timeout, retries and start
    period; ``podman healthcheck run`` then runs exactly what the image declares.
    """
    inspected = podman.inspect("image", image)
    healthcheck = inspected.get("Healthcheck") or inspected["Config"].get("Healthcheck")
    if systemd_runs() or not healthcheck:
        return []
    kind, *command = healthcheck["Test"]
    if kind not in {"CMD", "CMD-SHELL"}:  # NONE: the image turned its check off
        return []
    seconds = 1_000_000_000  # the durations are nanoseconds
    return [
        "--health-cmd",
        json.dumps(command) if kind == "CMD" else command[0],
        "--health-interval",
        "disable",
        "--health-timeout",
        f"{healthcheck.get('Timeout', 30 * seconds) // seconds}s",
        "--health-retries",
        str(healthcheck.get("Retries", 3)),
        "--health-start-period",
        f"{healthcheck.get('StartPeriod', 0) // seconds}s",
    ]
