"""``archlag check`` and ``archlag wait``: arguments, wiring, exit status.

Exit status: 0 every wanted platform is present; 1 some are missing (or ``wait`` timed out);
2 usage, configuration or registry errors; 130 interrupted (Ctrl-C). Each run ends with one
``archlag: ...`` line on stderr that says why; the report (table or JSON) goes to stdout, and
``wait`` shows its progress on stderr. Looking happens in :mod:`archlag.gate.from_registry` (the
registry itself) or :mod:`archlag.gate.from_server` (``--server``: a running archlag), the loop in
:mod:`archlag.gate.waiting`, the rendering in :mod:`archlag.gate.output`.

Wanted platforms, in this order: ``--platform``; the platforms of the watch for this image in
``-c FILE``; what the running archlag expects (``--server``); else learned from older tags.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NoReturn

import anyio
import httpx

from archlag import logs
from archlag.config import Config, ConfigError, load_config
from archlag.core.durations import DurationError, format_duration, parse_duration
from archlag.core.names import MAX_REPOSITORY_LENGTH
from archlag.core.platforms import Platform, PlatformError, parse_platform
from archlag.core.references import ImageReference, ImageReferenceError, parse_reference
from archlag.gate import output as gate_output
from archlag.gate.from_registry import RegistryLooker
from archlag.gate.from_server import ServerLooker
from archlag.gate.report import FROM_FLAGS, FROM_WATCH, Looker, NothingToExpectError, Report, Wanted
from archlag.gate.waiting import check, wait
from archlag.registry import (
    BadResponseError,
    NotFoundError,
    RateLimitedError,
    RegistryConnectionError,
    RegistryError,
    RegistryTimeoutError,
    RetryPolicy,
    ServerError,
    UnauthorizedError,
)
from archlag.registry.archlag_access import AccessError, ArchlagAccess, load_access
from archlag.registry.configured import open_client

EXIT_OK, EXIT_MISSING, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
GATE_COMMANDS = ("check", "wait")
SERVER_TIMEOUT = 30.0


class _OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line on stderr and status 2, like every other check/wait failure."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _gate_parser(command: str) -> _OneLineParser:
    waiting = command == "wait"
    parser = _OneLineParser(
        prog=f"archlag {command}",
        description=(
            "Poll until every wanted platform of the tag is published (HEAD first, so it costs "
            "no Docker Hub pull quota)."
            if waiting
            else "Show each platform of an image tag and whether every wanted one is present."
        ),
        epilog="Exit status: 0 all wanted platforms present, 1 some missing"
        + (" at the timeout" if waiting else "")
        + ", 2 usage or registry error, 130 interrupted. Attestations never count as platforms.",
    )
    parser.add_argument(
        "image",
        metavar="IMAGE:TAG" if waiting else "IMAGE[:TAG]",
        help="image reference, Docker rules: alpine:3.20, ghcr.io/o/r:1.0"
        + ("" if waiting else " (default tag: latest)"),
    )
    parser.add_argument(
        "-p",
        "--platform",
        dest="platforms",
        action="append",
        default=[],
        metavar="OS/ARCH[/VARIANT]",
        help="a wanted platform; repeat or separate with commas (default: the watch's platforms "
        "in -c FILE, else what --server expects, else learned from the three newest older tags)",
    )
    if waiting:
        parser.add_argument("--timeout", default="2h", metavar="DURATION", help="default: 2h")
        parser.add_argument("--interval", default="30s", metavar="DURATION", help="default: 30s")
    parser.add_argument(
        "-o", "--output", choices=["table", "json"], default="table", help="default: table"
    )
    parser.add_argument(
        "-c",
        "--config.file",
        dest="config",
        metavar="FILE",
        help="take registry settings and credentials from this archlag configuration",
    )
    parser.add_argument(
        "--insecure", action="store_true", help="talk plain HTTP to the registry (local registries)"
    )
    parser.add_argument(
        "--server",
        metavar="URL",
        help="ask a running archlag (e.g. http://archlag:10043) instead of the registry: no "
        "registry quota, and archlag's first-seen times",
    )
    parser.add_argument(
        "--server.credentials-file",
        dest="server_credentials",
        metavar="FILE",
        help="Basic credentials for --server, one line user:password",
    )
    parser.add_argument(
        "--server.ca-file",
        dest="server_ca",
        metavar="FILE",
        help="the CA that signs --server's certificate (default: the system's)",
    )
    return parser


@dataclass(frozen=True, slots=True)
class _GateOptions:
    image: ImageReference
    preset: Wanted | None  # None: the looker's default (learned, or the server's)
    output: str
    config: Config
    insecure: bool
    server: str | None
    access: ArchlagAccess
    timeout: float = 0.0
    interval: float = 0.0


def _gate_options(parser: _OneLineParser, command: str, args: argparse.Namespace) -> _GateOptions:
    """Validate the arguments; any problem exits 2 with one line."""
    try:
        image = parse_reference(args.image)
        wanted = frozenset(_platforms(args.platforms))
        timings = {}
        if command == "wait":
            timings = {"timeout": parse_duration(args.timeout)}
            timings["interval"] = parse_duration(args.interval)
    except (ImageReferenceError, PlatformError, DurationError) as exc:
        parser.error(str(exc))
    if len(image.repository) > MAX_REPOSITORY_LENGTH:
        parser.error(f"repository names are at most {MAX_REPOSITORY_LENGTH} characters")
    if image.tag is None and command == "wait":
        parser.error(f"name the tag to wait for: {image}:TAG")
    if timings.get("interval", 1.0) <= 0:
        parser.error("--interval must be longer than 0s")
    server = _server_url(parser, args.server)
    try:
        access = load_access(args.server_credentials, args.server_ca, "--server")
    except AccessError as exc:
        parser.error(str(exc))
    config = Config()
    if args.config is not None:
        try:
            config = load_config(args.config)
        except ConfigError as exc:
            more = f" (and {len(exc.issues) - 1} more)" if len(exc.issues) > 1 else ""
            first = exc.issues[0] if exc.issues else "invalid"
            parser.exit(EXIT_USAGE, f"archlag: {exc.source}: {first}{more}\n")
    return _GateOptions(
        image if image.tag else ImageReference(image.registry, image.repository, "latest"),
        _preset(wanted, config, image),
        args.output,
        config,
        args.insecure,
        server,
        access,
        **timings,
    )


def _preset(wanted: frozenset[Platform], config: Config, image: ImageReference) -> Wanted | None:
    """``--platform``, else the platforms of the watch for this image in the config, if any."""
    if wanted:
        return Wanted(wanted, FROM_FLAGS)
    for watch in config.watches:
        same = (watch.registry, watch.repository) == (image.registry, image.repository)
        if same and watch.settings.platforms:
            return Wanted(watch.settings.platforms, FROM_WATCH)
    return None


def _server_url(parser: _OneLineParser, value: str | None) -> str | None:
    if value is None:
        return None
    url = value.rstrip("/")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        parser.error(f"--server {value!r} is not a URL such as http://archlag:10043")
    if parsed.scheme not in ("http", "https") or not parsed.host:
        parser.error(f"--server {value!r} is not an http(s) URL such as http://archlag:10043")
    return url


def _platforms(values: list[str]) -> list[Platform]:
    platforms = [parse_platform(part) for value in values for part in value.split(",") if part]
    for platform in platforms:
        if platform.is_unknown:
            raise PlatformError(f"{platform} is what attestations carry; they never count")
    return platforms


def gate_main(command: str, argv: Sequence[str], *, retry: RetryPolicy | None = None) -> int:
    """``archlag check`` or ``archlag wait``; returns the exit status.

    ``retry`` replaces the registry client's retry policy (tests turn the waits off).
    """
    logs.setup("warning")
    parser = _gate_parser(command)
    options = _gate_options(parser, command, parser.parse_args(argv))
    progress = gate_output.ProgressLine(sys.stderr)
    started = time.monotonic()
    latest: list[Report] = []
    try:
        return anyio.run(_run, command, options, retry, progress, latest)
    except KeyboardInterrupt:  # Ctrl-C before the signal receiver was in place
        return _interrupted(progress, latest, time.monotonic() - started)


async def _run(
    command: str,
    options: _GateOptions,
    retry: RetryPolicy | None,
    progress: gate_output.ProgressLine,
    latest: list[Report],
) -> int:
    """Open the registry client (or the HTTP client for --server) for the length of the run."""
    if options.server is not None:
        http = httpx.AsyncClient(timeout=SERVER_TIMEOUT, **options.access.client_options())
        async with http:
            looker = ServerLooker(http, options.server)
            return await _command(command, options, looker, progress, latest)
    client = open_client(
        options.config, options.image.registry, insecure=options.insecure, retry=retry
    )
    async with client:
        return await _command(command, options, RegistryLooker(client), progress, latest)


async def _command(
    command: str,
    options: _GateOptions,
    looker: Looker,
    progress: gate_output.ProgressLine,
    latest: list[Report],
) -> int:
    if command == "check":
        return await _check(options, looker)
    return await _wait(options, looker, progress, latest)


async def _check(options: _GateOptions, looker: Looker) -> int:
    try:
        report = await check(looker, options.image, options.preset)
    except (RegistryError, NothingToExpectError) as exc:
        return _failed(options, exc)
    _print_report(options, report, "check")
    _say(gate_output.summary(report))
    return EXIT_OK if report.complete else EXIT_MISSING


async def _wait(
    options: _GateOptions,
    looker: Looker,
    progress: gate_output.ProgressLine,
    latest: list[Report],
) -> int:
    """Wait in one task, watch for Ctrl-C in another; whichever ends first stops the other."""
    status: list[int] = []
    started = time.monotonic()

    def on_round(report: Report, elapsed: float) -> None:
        latest[:] = [report]
        progress.update(gate_output.progress(report, elapsed))

    def on_error(error: RegistryError, elapsed: float) -> None:
        progress.update(f"waiting {format_duration(elapsed)}: {_problem(error)}, trying again")

    async def waiting(scope: anyio.CancelScope) -> None:
        try:
            expectation = options.preset or await looker.expectation(options.image)
            result = await wait(
                looker,
                options.image,
                expectation,
                give_up_after=options.timeout,
                interval=options.interval,
                on_round=on_round,
                on_error=on_error,
            )
        except (RegistryError, NothingToExpectError) as exc:
            progress.finish()
            status.append(_failed(options, exc))
        else:
            progress.finish()
            _print_report(options, result.report, "wait", result.waited, result.timed_out)
            _say(gate_output.wait_summary(result, options.timeout))
            status.append(EXIT_MISSING if result.timed_out else EXIT_OK)
        scope.cancel()

    async def interrupt(scope: anyio.CancelScope) -> None:
        with anyio.open_signal_receiver(signal.SIGINT) as signals:
            async for _ in signals:
                status.append(_interrupted(progress, latest, time.monotonic() - started))
                scope.cancel()
                return

    async with anyio.create_task_group() as group:
        group.start_soon(interrupt, group.cancel_scope)
        group.start_soon(waiting, group.cancel_scope)
    return status[0]


def _print_report(
    options: _GateOptions,
    report: Report,
    command: str,
    waited: float | None = None,
    timed_out: bool = False,
) -> None:
    via = "registry" if options.server is None else "server"
    if options.output == "json":
        text = gate_output.as_json(report, command, waited=waited, timed_out=timed_out, via=via)
    else:
        text = gate_output.table(report, waited=waited, via=via)
    sys.stdout.write(text)
    sys.stdout.flush()


def _interrupted(progress: gate_output.ProgressLine, latest: list[Report], elapsed: float) -> int:
    progress.finish()
    _say(gate_output.interrupted_summary(latest[0] if latest else None, elapsed))
    return EXIT_INTERRUPTED


def _failed(options: _GateOptions, error: Exception) -> int:
    image = options.image
    if isinstance(error, RegistryError):
        _say(f"{image}: {_problem(error)}: {error.message}{_hint(options, error)}")
    else:
        _say(f"{image}: {error}")
    return EXIT_USAGE


def _hint(options: _GateOptions, error: RegistryError) -> str:
    """What to try, for a TLS handshake with a registry that speaks plain HTTP."""
    tls = any(word in error.message for word in ("SSL", "TLS", "WRONG_VERSION_NUMBER"))
    if (
        options.server is None
        and not options.insecure
        and isinstance(error, RegistryConnectionError)
        and tls
    ):
        return (
            f" (the TLS handshake failed: if {error.registry} serves plain HTTP, as a local "
            "registry usually does, add --insecure)"
        )
    return ""


def _problem(error: RegistryError) -> str:
    """A plain phrase for each kind of registry failure (the tree in registry/errors.py)."""
    phrases: list[tuple[type[RegistryError], str]] = [
        (UnauthorizedError, "access denied (check the credentials in -c FILE or --server.*)"),
        (RegistryConnectionError, f"cannot connect to {error.registry}"),
        (RegistryTimeoutError, f"{error.registry} did not answer in time"),
        (ServerError, f"{error.registry} failed"),
        (RateLimitedError, f"rate limited by {error.registry}"),
        (NotFoundError, "not found"),
        (BadResponseError, f"unusable answer from {error.registry}"),
    ]
    return next((phrase for cls, phrase in phrases if isinstance(error, cls)), "registry error")


def _say(line: str) -> None:
    print(f"archlag: {line}", file=sys.stderr, flush=True)
