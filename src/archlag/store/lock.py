"""One writer per state file: an exclusive lock held for the process's life, and a watch on the
file's identity.

The lock is ``flock(2)`` on the state file itself, taken before SQLite touches it. The kernel
drops it when the process ends, however it ends (``kill -9`` included), so a stale lock cannot
outlive its holder. SQLite's own locks are POSIX record locks, which do not interact with
``flock`` on Linux; the descriptor stays open until after SQLite has closed the file, because
closing any descriptor of a file drops that process's POSIX locks on it.

:class:`FileIdentity` remembers the device and inode that were opened: a state file deleted or
replaced under a running archlag is noticed at the next check instead of written into an
unlinked file.

Errors: :class:`~archlag.store.records.StoreError` with the file's name and the reason.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat

from archlag.store.records import StoreError


class StateFileLock:
    """An exclusive lock on ``path`` (created if missing); :meth:`release` at the end."""

    def __init__(self, path: str) -> None:
        self.path = path
        refuse_read_only(path)
        try:
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise StoreError(
                f"state file {path}: cannot open it for writing: {_why(exc)}"
            ) from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(self._fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise LockedError(path) from None
            raise StoreError(f"state file {path}: cannot lock it: {_why(exc)}") from None
        self.identity = FileIdentity(path, self._fd)

    def release(self) -> None:
        os.close(self._fd)  # closing drops the flock


class LockedError(StoreError):
    """Another process holds the state file; the caller adds who, if it can tell."""

    def __init__(self, path: str, holder: str = "another process") -> None:
        self.path = path
        super().__init__(
            f"state file {path} is in use by {holder}; only one archlag may write a state file "
            "(stop the other one, or give this one its own state_file)"
        )


class FileIdentity:
    """The device and inode of an open file, compared with what its path names now."""

    def __init__(self, path: str, fd: int) -> None:
        self.path = path
        opened = os.fstat(fd)
        self._fd = fd
        self._key = (opened.st_dev, opened.st_ino)

    def problem(self) -> str | None:
        """None while ``path`` is still the file that was opened; otherwise what happened."""
        try:
            now = os.stat(self.path)
        except FileNotFoundError:
            return f"state file {self.path} was deleted while archlag was running"
        except OSError as exc:
            return f"state file {self.path} cannot be checked: {_why(exc)}"
        if (now.st_dev, now.st_ino) != self._key:
            return f"state file {self.path} was replaced by another file while archlag was running"
        return None


def refuse_read_only(path: str) -> None:
    """Refuse a state file nobody may write (mode without any w bit), even when root could.

    Raises:
        StoreError: the file exists and is read-only.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            raise StoreError(
                f"state file {path}: its directory {directory} does not exist"
            ) from None
        return
    except OSError as exc:
        raise StoreError(f"state file {path}: cannot use it: {_why(exc)}") from None
    if not stat.S_ISREG(mode):
        raise StoreError(f"state file {path} is not a regular file")
    if not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        raise StoreError(
            f"state file {path} is read-only (mode {stat.S_IMODE(mode):04o}); archlag must write it"
        )


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)
