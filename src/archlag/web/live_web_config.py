"""The running web configuration, read again when its file or one of its TLS files changes.

:meth:`LiveWebConfig.current` is asked at every new connection (its TLS context) and every
request (its users and headers). It compares the files' ``stat`` (inode, size, times: a
Kubernetes Secret swaps a symbolic link, an editor writes a new file) with what it last read,
and only when one changed reads and checks them all again
(:func:`~archlag.web.web_config.load_web_config`). A file that is refused keeps the running
configuration: the log says so once per change (``web_config_reload_failed``, with each issue's
key path, never the file's path or a value), and :attr:`LiveWebConfig.successful` is False until
a good file is read (``archlag_web_config_last_reload_successful``). TLS cannot be turned on or
off for a listener that is already serving: that needs a restart, and is refused the same way.
"""

from __future__ import annotations

import logging
import os
import ssl
import time
from collections.abc import Callable
from pathlib import Path

from archlag import logs
from archlag.config import ConfigError, ConfigIssue
from archlag.web.web_config import (
    SOURCE,
    LoadedWebConfig,
    load_web_config,
    parse_web_config,
    read_text,
)

log = logging.getLogger("archlag.web")
_Stat = tuple[int, int, int, int, int] | None
MAX_LOGGED_ISSUES = 20


class LiveWebConfig:
    """The web configuration in force; see the module docstring."""

    def __init__(
        self, path: Path, loaded: LoadedWebConfig, clock: Callable[[], float] = time.time
    ) -> None:
        self._path = path
        self._loaded = loaded
        self._clock = clock
        self._attempted: tuple[Path, ...] = ()  # TLS files of a refused file, watched too
        self._seen = self._signature()
        self.successful = True
        self.last_success = clock()

    def current(self) -> LoadedWebConfig:
        """The configuration in force, read again first if a file changed."""
        signature = self._signature()
        if signature != self._seen:
            self._seen = signature
            self._reload()
            self._seen = self._signature()  # the files a new configuration names
        return self._loaded

    def tls_context(self) -> ssl.SSLContext:
        """The TLS context in force (a TLS listener asks at every new connection)."""
        context = self.current().context
        if context is None:  # a reload never turns TLS off (refused), so never reached
            raise RuntimeError("TLS is not configured")
        return context

    def _reload(self) -> None:
        try:
            loaded = load_web_config(self._path)
            if (loaded.context is None) != (self._loaded.context is None):
                raise ConfigError(SOURCE, [_TLS_SWITCH])
        except ConfigError as exc:
            self.successful = False
            self._attempted = _named_files(self._path)
            issues = "; ".join(str(issue) for issue in exc.issues[:MAX_LOGGED_ISSUES])
            logs.event(log, logging.ERROR, "web_config_reload_failed", errors=len(exc.issues),
                       issues=issues, kept="the running web configuration")  # fmt: skip
            return
        self._loaded, self._attempted = loaded, ()
        self.successful, self.last_success = True, self._clock()
        tls = loaded.config.tls
        logs.event(log, logging.INFO, "web_config_reloaded", tls=tls is not None,
                   client_auth=tls.client_auth_type if tls else "none",
                   users=len(loaded.config.users))  # fmt: skip

    def _signature(self) -> tuple[_Stat, ...]:
        tls = self._loaded.config.tls
        files = (self._path, *(tls.files if tls else ()), *self._attempted)
        return tuple(_stat(path) for path in files)


_TLS_SWITCH = ConfigIssue(
    "tls_server_config", None, "turning TLS on or off needs a restart of archlag"
)


def _named_files(path: Path) -> tuple[Path, ...]:
    """The TLS files a refused file names, if it can be read that far (to retry when they
    change)."""
    try:
        tls = parse_web_config(read_text(path), path.parent).tls
    except ConfigError:
        return ()
    return tls.files if tls else ()


def _stat(path: Path) -> _Stat:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return (found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns)
