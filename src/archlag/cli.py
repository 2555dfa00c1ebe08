"""The ``archlag`` command line: the exporter (Prometheus-style flags), ``check`` and ``wait``.

``archlag -c FILE [--web.listen-address ...]`` runs the exporter. Exit status: 0 after a clean
shutdown or a valid ``--config.check``; 2 for usage and configuration errors; 1 when the state
file or the listen address cannot be used.

``archlag check IMAGE[:TAG]`` and ``archlag wait IMAGE:TAG`` gate a release on its platforms;
they are dispatched to :mod:`archlag.gate.commands`, which documents their exit status.
"""

from __future__ import annotations

import argparse
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

import anyio

from archlag import __version__, logs
from archlag.config import ConfigError, load_config, split_listen_address
from archlag.core.durations import DurationError, parse_duration
from archlag.core.sharding import Shard, ShardError, ordinal_from_hostname
from archlag.gate.commands import GATE_COMMANDS, gate_main
from archlag.registry import RetryPolicy
from archlag.registry.archlag_access import load_access
from archlag.store import SQLiteStore, StoreError
from archlag.web.healthcheck import main as healthcheck_main
from archlag.web.listener import MAX_CONNECTIONS, MAX_CONNECTIONS_PER_CLIENT, ConnectionBounds
from archlag.web.web_config import LoadedWebConfig, load_web_config

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
SUBCOMMANDS = (*GATE_COMMANDS, "healthcheck")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="archlag",
        description="Prometheus exporter: how late each architecture of a multi-arch image is "
        "published.",
        epilog="Release gating: 'archlag check IMAGE[:TAG]' and 'archlag wait IMAGE:TAG' "
        "(see 'archlag check --help'). The image's HEALTHCHECK: 'archlag healthcheck'.",
    )
    parser.add_argument(
        "-c",
        "--config.file",
        dest="config",
        default="archlag.yml",
        metavar="FILE",
        help="configuration file (default: %(default)s)",
    )
    parser.add_argument(
        "--config.check",
        dest="check",
        action="store_true",
        help="validate the configuration file and exit (0 valid, 2 invalid)",
    )
    parser.add_argument(
        "--web.listen-address",
        dest="listen",
        metavar="HOST:PORT",
        help="address for /metrics and the landing page (overrides `listen` in the config)",
    )
    parser.add_argument(
        "--web.events-listen-address",
        dest="events_listen",
        metavar="HOST:PORT",
        help="serve the push-event receivers (/events/...) only here, apart from /metrics "
        "(overrides `events_listen` in the config; default: the main address)",
    )
    parser.add_argument(
        "--web.config.file",
        dest="web_config",
        metavar="FILE",
        help="TLS and Basic authentication for every listener, in the exporter-toolkit format "
        "(tls_server_config, basic_auth_users, http_server_config); read again when it or its "
        "certificates change",
    )
    parser.add_argument(
        "--web.max-connections",
        dest="max_connections",
        type=int,
        default=MAX_CONNECTIONS,
        metavar="N",
        help="connections open at once per listener; more are closed at once (default: "
        "%(default)s)",
    )
    parser.add_argument(
        "--web.max-connections-per-client",
        dest="max_connections_per_client",
        type=int,
        default=MAX_CONNECTIONS_PER_CLIENT,
        metavar="N",
        help="connections open at once from one client address, per listener (default: "
        "%(default)s)",
    )
    parser.add_argument(
        "--web.enable-lifecycle",
        dest="enable_lifecycle",
        action="store_true",
        help="serve POST /-/reload (SIGHUP always reloads)",
    )
    parser.add_argument(
        "--shard", type=int, default=None, metavar="N", help="this process's shard, 0-based"
    )
    parser.add_argument(
        "--total-shards", type=int, default=1, metavar="N", help="the number of shards (default 1)"
    )
    parser.add_argument(
        "--shard.from-hostname",
        dest="shard_from_hostname",
        action="store_true",
        help="take --shard from the hostname's trailing ordinal (a StatefulSet pod: archlag-2)",
    )
    parser.add_argument(
        "--shard.peers",
        dest="peers",
        default="",
        metavar="URL,...",
        help="other archlag shards (http://archlag-0.archlag:10043,...): a repository that moved "
        "here adopts the history its old shard holds",
    )
    parser.add_argument(
        "--shard.peers.credentials-file",
        dest="peers_credentials",
        metavar="FILE",
        help="Basic credentials for the peers, one line user:password (their --web.config.file "
        "has basic_auth_users)",
    )
    parser.add_argument(
        "--shard.peers.ca-file",
        dest="peers_ca",
        metavar="FILE",
        help="the CA that signs the peers' certificates (https:// peers; default: the system's)",
    )
    parser.add_argument(
        "--web.ready-timeout",
        dest="ready_timeout",
        default="2m",
        metavar="DURATION",
        help="report ready after this long even if first polls are unfinished (default: 2m)",
    )
    parser.add_argument(
        "--log.level",
        dest="log_level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="log level (default: info)",
    )
    parser.add_argument("--version", action="version", version=f"archlag {__version__}")
    return parser


def main(argv: Sequence[str] | None = None, *, retry: RetryPolicy | None = None) -> int:
    """Run a command line; ``retry`` replaces the registry retry policy of check and wait."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments and arguments[0] in SUBCOMMANDS:
        return _subcommand(arguments[0], arguments[1:], retry)
    parser = _parser()
    args = parser.parse_args(arguments)
    logs.setup(args.log_level)
    try:
        ready_timeout = parse_duration(args.ready_timeout)
        for address in (args.listen, args.events_listen):
            if address is not None:
                split_listen_address(address)
        shard = _shard(args)
        bounds = _bounds(args)
        peer_access = load_access(args.peers_credentials, args.peers_ca, "--shard.peers")
    except (DurationError, ValueError) as exc:
        parser.error(str(exc))  # exits 2
    try:
        config = load_config(args.config)
        web_config = _web_config(args.web_config)
    except ConfigError as exc:
        print(f"archlag: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.check:
        print(f"{args.config}: configuration is valid ({len(config.watches)} watches)")
        if web_config is not None:
            print(f"--web.config.file: valid ({_web_summary(web_config)})")
        return EXIT_OK
    try:
        store = SQLiteStore(config.state_file)
    except StoreError as exc:
        print(f"archlag: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    from archlag.exporter.runner import RunOptions, run  # noqa: PLC0415 - --config.check stays light

    listen = args.listen or config.listen
    options = RunOptions(
        config_path=Path(args.config),
        listen=listen,
        ready_timeout=ready_timeout,
        events_listen=args.events_listen or config.events_listen,
        enable_lifecycle=args.enable_lifecycle,
        shard=shard,
        peers=tuple(p.strip() for p in args.peers.split(",") if p.strip()),
        web_config_path=Path(args.web_config) if args.web_config else None,
        web_config=web_config,
        bounds=bounds,
        peer_access=peer_access,
    )
    try:
        anyio.run(run, config, store, options)
    except (OSError, ExceptionGroup) as exc:
        error = _bind_error(exc)
        if error is None:
            raise
        address = getattr(error, "address", listen)
        print(f"archlag: cannot serve on {address}: {error.strerror or error}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        store.close()
    return EXIT_OK


def _subcommand(name: str, arguments: list[str], retry: RetryPolicy | None) -> int:
    if name == "healthcheck":
        return healthcheck_main(arguments)
    return gate_main(name, arguments, retry=retry)


def _shard(args: argparse.Namespace) -> Shard:
    """``--shard``/``--total-shards`` (or the hostname's ordinal).

    Raises:
        ShardError: they cannot be used (a ValueError).
    """
    ordinal = args.shard
    if args.shard_from_hostname:
        if ordinal is not None:
            raise ShardError("use --shard or --shard.from-hostname, not both")
        ordinal = ordinal_from_hostname(socket.gethostname())
    return Shard(ordinal or 0, args.total_shards)


def _bounds(args: argparse.Namespace) -> ConnectionBounds:
    """``--web.max-connections`` and ``--web.max-connections-per-client``.

    Raises:
        ValueError: a bound below 1, or a per-client bound above the listener's.
    """
    bounds = ConnectionBounds(args.max_connections, args.max_connections_per_client)
    if min(bounds.per_listener, bounds.per_client) < 1:
        raise ValueError("--web.max-connections and --web.max-connections-per-client must be >= 1")
    if bounds.per_client > bounds.per_listener:
        raise ValueError("--web.max-connections-per-client must not exceed --web.max-connections")
    return bounds


def _web_config(path: str | None) -> LoadedWebConfig | None:
    """The web configuration file, read and checked with its TLS files (None: not given).

    Raises:
        ConfigError: as :func:`~archlag.web.web_config.load_web_config`.
    """
    return load_web_config(Path(path)) if path else None


def _web_summary(loaded: LoadedWebConfig) -> str:
    tls = loaded.config.tls
    how = f"TLS, {tls.client_auth_type}" if tls else "plain HTTP"
    return f"{how}, {len(loaded.config.users)} Basic users"


def _bind_error(exc: BaseException) -> OSError | None:
    """The OSError behind a failed start (the server raises it inside the task group)."""
    if isinstance(exc, OSError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            if (found := _bind_error(inner)) is not None:
                return found
    return None


if __name__ == "__main__":
    sys.exit(main())
