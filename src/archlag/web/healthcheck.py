"""``archlag healthcheck``: is the archlag on this address alive? For the image's HEALTHCHECK.

It needs no configuration and no credentials, whatever ``--web.config.file`` says: it first
speaks TLS (without verifying the certificate: it checks liveness, not identity, as the kubelet
does), and plain HTTP when the listener answers a TLS greeting with plain HTTP. Alive means
that the process accepts a connection and its event loop answers: ``GET /-/healthy`` answered
with anything but a 5xx (a 401 included: Basic authentication is on, and the image knows only
the passwords' hashes), or a TLS handshake that the server answered and then closed or refused
for want of a client certificate (``RequireAndVerifyClientCert``). Refused or silent
connections, timeouts and 5xx are not alive.

Exit status: 0 alive, 1 not (one line on stderr says why), 2 usage errors.
"""

from __future__ import annotations

import argparse
import http.client
import ssl
import sys
from collections.abc import Sequence

from archlag.config import DEFAULT_LISTEN, split_listen_address

PATH = "/-/healthy"
_PLAIN_HTTP_REPLIES = ("WRONG_VERSION_NUMBER", "HTTP_REQUEST", "RECORD_LAYER_FAILURE")


class _PlainHTTPError(Exception):
    """The listener answered the TLS greeting with plain HTTP."""


def probe(host: str, port: int, timeout: float) -> tuple[bool, str]:
    """Whether the listener is alive, and what it answered."""
    tls = _TLSConnection(host, port, timeout=timeout, context=_unverified())
    try:
        try:
            return _ask(tls)
        except _PlainHTTPError:
            return _ask(http.client.HTTPConnection(host, port, timeout=timeout))
    except (OSError, http.client.HTTPException) as exc:
        if tls.handshake_done or _alert(exc):
            # The server's TLS stack answered (its certificate, its Finished), then refused us:
            # a listener that requires a client certificate.
            return True, f"TLS answered, then the server closed ({type(exc).__name__})"
        return False, f"{type(exc).__name__}: {exc}"


def _unverified() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # liveness, not identity (the kubelet does the same)
    return context


def _alert(exc: BaseException) -> bool:
    """A TLS alert the server sent (a handshake refused for want of a client certificate)."""
    return isinstance(exc, ssl.SSLError) and "ALERT" in str(exc.reason or "")


class _TLSConnection(http.client.HTTPSConnection):
    handshake_done = False

    def connect(self) -> None:
        try:
            super().connect()
        except ssl.SSLError as exc:
            if any(reply in str(exc.reason or "") for reply in _PLAIN_HTTP_REPLIES):
                raise _PlainHTTPError from None
            raise
        self.handshake_done = True


def _ask(connection: http.client.HTTPConnection) -> tuple[bool, str]:
    try:
        connection.request("GET", PATH, headers={"Connection": "close"})
        status = connection.getresponse().status
    finally:
        connection.close()
    return status < 500, f"{PATH} answered {status}"


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="archlag healthcheck",
        description="Exit 0 if the archlag on ADDRESS is alive (the image's HEALTHCHECK): it "
        "answers /-/healthy over TLS or plain HTTP, a 401 included, or refuses a TLS client "
        "without a certificate.",
    )
    parser.add_argument("--address", default=f"127.0.0.1:{DEFAULT_LISTEN.rpartition(':')[2]}")
    parser.add_argument("--timeout", type=float, default=4.0, metavar="SECONDS")
    args = parser.parse_args(argv)
    try:
        host, port = split_listen_address(args.address)
    except ValueError as exc:
        parser.error(str(exc))
    alive, said = probe(host.strip("[]") or "127.0.0.1", port, args.timeout)
    if not alive:
        print(f"archlag healthcheck: not alive on {args.address}: {said}", file=sys.stderr)
        return 1
    return 0
