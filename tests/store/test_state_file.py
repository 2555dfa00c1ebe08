"""One writer per state file, and every state file that cannot be used named with its reason."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from archlag.core.figures import WatchFigures
from archlag.core.platforms import parse_platform
from archlag.core.publication import Content, apply_content
from archlag.store import LockedError, PollRecord, SQLiteStore, StoreError
from tests.support.archlag_process import ARCHLAG

AMD = parse_platform("linux/amd64")
REPO = ("127.0.0.1:5000", "demo/app")


def _record(now: float) -> PollRecord:
    state = apply_content(None, "1.0", Content("sha256:i", {AMD: "sha256:a"}), now).state
    return PollRecord(
        *REPO, WatchFigures(baseline_done=True, last_poll_success=now), tags_changed=(state,)
    )


def test_a_second_store_on_a_file_in_use_names_the_file_and_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    first = SQLiteStore(str(path))
    with pytest.raises(LockedError) as caught:
        SQLiteStore(str(path))
    message = str(caught.value)
    assert str(path) in message
    assert f"archlag pid {os.getpid()} on host {socket.gethostname()}" in message
    first.save(_record(1.0))
    first.close()
    again = SQLiteStore(str(path))  # the lock went with the first store
    assert "1.0" in again.load(*REPO).tags
    again.close()


def test_a_deleted_state_file_is_noticed_and_never_written(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = SQLiteStore(str(path))
    store.save(_record(1.0))
    assert store.problem() is None
    path.unlink()
    assert store.problem() == f"state file {path} was deleted while archlag was running"
    with pytest.raises(StoreError, match="was deleted"):
        store.save(_record(2.0))
    assert not path.exists(), "nothing wrote a new file in its place"
    store.close()


def test_a_replaced_state_file_is_noticed(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = SQLiteStore(str(path))
    store.save(_record(1.0))
    other = tmp_path / "other.db"
    sqlite3.connect(other).close()
    os.replace(other, path)
    assert "was replaced by another file" in (store.problem() or "")
    with pytest.raises(StoreError, match="replaced"):
        store.save(_record(2.0))
    store.close()


def test_read_only_state_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    SQLiteStore(str(path)).close()
    path.chmod(0o444)
    with pytest.raises(StoreError, match=r"state\.db is read-only \(mode 0444\)"):
        SQLiteStore(str(path))


def test_missing_directory_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "state.db"
    with pytest.raises(StoreError, match=r"its directory .*nowhere does not exist"):
        SQLiteStore(str(path))


def _in_small_filesystem(script: str, directory: Path) -> subprocess.CompletedProcess[str]:
    """Run a shell script with a 256 KiB tmpfs mounted on ``directory`` (a private mount)."""
    unshare = shutil.which("unshare")
    assert unshare is not None, "util-linux unshare is part of every Debian system"
    namespace = ["--mount"] if os.geteuid() == 0 else ["--user", "--map-root-user", "--mount"]
    mount = f"mount -t tmpfs -o size=256k tmpfs {directory}"
    return subprocess.run(
        [unshare, *namespace, "sh", "-ec", f"{mount}\n{script}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_restart_on_a_full_disk_names_the_problem(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    config = tmp_path / "archlag.yml"
    config.write_text(
        f"state_file: {disk}/state.db\nwatches:\n  - image: 127.0.0.1:9/demo/app\n",
        encoding="utf-8",
    )
    state = disk / "state.db"
    python = Path(sys.executable)
    create = f"from archlag.store import SQLiteStore; SQLiteStore('{state}').close()"
    check = (
        f"import sqlite3; db = sqlite3.connect('{state}'); "
        "print(db.execute('pragma quick_check').fetchone()[0])"
    )
    script = f"""
    {python} -c "{create}"
    head -c 1000000 /dev/zero > {disk}/filler || true
    status=0
    {ARCHLAG} -c {config} --web.listen-address 127.0.0.1:9 || status=$?
    rm {disk}/filler
    {python} -c "{check}"
    exit $status
    """
    result = _in_small_filesystem(script, disk)
    assert result.returncode == 1, result.stderr
    assert f"archlag: state file {state}: the disk holding it is full" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout.strip() == "ok", "the state file was left intact"
