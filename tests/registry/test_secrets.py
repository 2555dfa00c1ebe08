"""No planted secret leaves archlag in any form: not in an error, not in a log line at debug.

Every credential source gets a planted secret (a Basic password, a registry token, an identity
token, a Docker config ``auth`` entry, and the bearer tokens a token server issues), and
MockTransport registries echo them back in error bodies, in headers (a realm, a redirect) and
in transport errors. The failures are logged the way the poller logs them, with archlag's own
logging at debug (httpx included), and the output is searched for every printed form.
"""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from archlag import logs
from archlag.registry import (
    BasicCredentials,
    CredentialSource,
    DockerConfigCredentials,
    IdentityToken,
    RegistryError,
    RegistryToken,
    RetryPolicy,
    StaticCredentials,
)
from archlag.registry.errors import sanitize
from archlag.secrets import Secret
from tests.support.mock_registry import mock_client
from tests.support.planted import archlag_logs, basic_forms, leaks
from tests.support.registry_server import RegistryServer

pytestmark = pytest.mark.anyio

PASSWORD = "planted-basic-password"
TOKEN = "planted-registry-token"
IDENTITY = "planted-identity-token"
CONFIG_PASSWORD = "planted-config-password"
ISSUED = "planted-issued-bearer-token"
FILE_TOKEN = "planted-token-from-a-secret-file\n"  # the usual shape of a Kubernetes secret file
PLANTED = [PASSWORD, TOKEN, IDENTITY, CONFIG_PASSWORD, ISSUED, FILE_TOKEN]
LOG = logging.getLogger("archlag.poller")


def error_body(*echoed: str) -> dict[str, object]:
    message = "you sent " + " and ".join(echoed)
    return {"errors": [{"code": "DENIED", "message": message, "detail": list(echoed)}]}


REALM = 'Bearer realm="https://registry.example/token",service="registry.example"'


class EchoingRegistry:
    """Echoes whatever secret it was sent, in every place a registry can put text."""

    def __init__(self, challenge: str) -> None:
        self.challenge = challenge

    def __call__(self, request: httpx.Request) -> httpx.Response:
        sent = request.headers.get("authorization", "")
        form = dict(httpx.QueryParams(request.content.decode())) if request.content else {}
        echoed = [sent, sent.split(" ")[-1], *form.values()]
        if sent.startswith("Basic "):
            echoed.append(base64.b64decode(sent.split(" ")[-1]).decode())
        if request.url.path == "/token":
            if request.method == "POST" or "echo" in request.url.params:
                return httpx.Response(401, json=error_body(*echoed))
            return httpx.Response(200, json={"token": ISSUED})
        if request.url.host == "cdn.example":
            raise httpx.ConnectError(f"cannot reach {request.url} for {echoed}")
        if request.url.path.endswith("/redirected"):
            target = f"https://cdn.example/blob?sig={quote(sent)}&raw={sent}"
            return httpx.Response(307, headers={"Location": target})
        if not sent:
            return httpx.Response(401, headers={"WWW-Authenticate": self.challenge})
        if request.url.path.endswith("/tags/list"):
            return httpx.Response(307, headers={"Location": "/v2/demo/app/redirected"})
        return httpx.Response(403, json=error_body(*echoed), headers={"X-Echo": sent[-40:]})


def write_docker_config(tmp_path: Path) -> Path:
    auth = base64.b64encode(f"carol:{CONFIG_PASSWORD}".encode()).decode()
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"auths": {"registry.example": {"auth": auth}}}))
    return path


def sources(tmp_path: Path) -> list[tuple[str, CredentialSource]]:
    return [
        ("basic", StaticCredentials(BasicCredentials("alice", Secret(PASSWORD)))),
        ("token", StaticCredentials(RegistryToken(Secret(TOKEN)))),
        ("token-file", StaticCredentials(RegistryToken(Secret(FILE_TOKEN)))),
        ("identity", StaticCredentials(IdentityToken(Secret(IDENTITY)))),
        (
            "docker-config",
            DockerConfigCredentials(write_docker_config(tmp_path), "registry.example"),
        ),
        ("anonymous-bearer", StaticCredentials(None)),
    ]


async def failures(source: CredentialSource, challenge: str) -> list[RegistryError]:
    """Every request of a poll against the echoing registry, failing as it echoes."""
    errors: list[RegistryError] = []
    client = mock_client(
        EchoingRegistry(challenge), credentials=source, retry=RetryPolicy(attempts=1)
    )
    async with client:
        for call in (
            lambda: client.list_tags("demo/app"),
            lambda: client.head_manifest("demo/app", "1.0"),
            lambda: client.get_manifest("demo/app", "1.0"),
        ):
            try:
                await call()
            except RegistryError as exc:
                errors.append(exc)
                logs.event(
                    LOG, logging.WARNING, "tag_check_failed", result=exc.result, error=exc.message
                )
                LOG.debug("failed %r", exc)
                LOG.exception("poll_crashed")
    return errors


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    with archlag_logs("debug") as buffer:
        yield buffer


@pytest.mark.parametrize(
    "challenge",
    [
        pytest.param(REALM, id="bearer"),
        pytest.param(REALM.replace("/token", "/token?echo=1"), id="token-server-echoes"),
        pytest.param('Basic realm="registry.example"', id="basic"),
    ],
)
async def test_no_planted_secret_appears_in_errors_or_debug_logs(
    tmp_path: Path, output: io.StringIO, challenge: str
) -> None:
    texts: list[str] = []
    for name, source in sources(tmp_path):
        errors = await failures(source, challenge)
        assert errors, name  # every source met the echoing registry and failed
        texts += [text for error in errors for text in (str(error), repr(error), error.message)]
    logged = output.getvalue()
    assert "***" in logged  # the echoes were there, and were masked
    secrets = [*PLANTED, f"Bearer {ISSUED}", f"alice:{PASSWORD}", f"carol:{CONFIG_PASSWORD}"]
    for text in [*texts, logged]:
        assert leaks(text, secrets) == []
        for form in basic_forms("alice", PASSWORD) + basic_forms("carol", CONFIG_PASSWORD):
            assert form not in text


async def test_a_secret_planted_in_a_realm_is_masked_in_the_request_lines_httpx_logs(
    output: io.StringIO,
) -> None:
    secret = Secret("planted-realm-secret\n")
    realm = f'Bearer realm="https://registry.example/token?leak={quote(secret.reveal())}"'
    await failures(StaticCredentials(None), realm)
    logged = output.getvalue()
    assert "HTTP Request: GET https://registry.example/token?leak=***" in logged
    assert leaks(logged, [secret.reveal()]) == []


# -- what httpx itself says ----------------------------------------------------------------------


@pytest.mark.integration
async def test_the_illegal_header_value_error_of_a_real_http_stack_is_masked(
    registry: RegistryServer, output: io.StringIO
) -> None:
    """What httpx and h11 say about a token with a newline, sent to a real server on loopback:
    ``Illegal header value b'Bearer <token>\\n'``, the escaped form the old scrubber missed."""
    token = Secret("planted-token-for-h11\n")
    async with httpx.AsyncClient() as http:
        with pytest.raises(httpx.LocalProtocolError) as info:
            await http.get(
                f"{registry.url}/v2/", headers={"Authorization": f"Bearer {token.reveal()}"}
            )
    assert "planted-token-for-h11\\n" in str(info.value)  # the escaped form, as it was printed
    logs.event(LOG, logging.WARNING, "poll_failed", error=str(info.value))
    LOG.error("poll_crashed", exc_info=info.value)
    detail = sanitize(str(info.value))
    logged = output.getvalue()
    assert "Illegal header value" in logged
    assert leaks(logged + detail, [token.reveal()]) == []


# -- the scrubber's forms, one by one ---------------------------------------------------------


@pytest.mark.parametrize(
    "shape",
    [
        pytest.param(lambda s: s, id="as-is"),
        pytest.param(lambda s: repr(s.encode()), id="bytes-repr"),
        pytest.param(lambda s: repr(repr(s)), id="repr-of-repr"),
        pytest.param(lambda s: json.dumps({"secret": s}), id="json"),
        pytest.param(lambda s: "https://x/?q=" + quote(s, safe=""), id="url-encoded"),
        pytest.param(lambda s: str(httpx.URL("https://x/", params={"q": s})), id="httpx-query"),
        pytest.param(lambda s: base64.b64encode(s.encode()).decode(), id="base64"),
    ],
)
def test_sanitize_masks_every_printed_form(shape: Callable[[str], str]) -> None:
    held = Secret('planted\\secret "with" \x1b[31m and é\n')
    text = sanitize(f"error: {shape(held.reveal())} end")
    assert "***" in text
    assert leaks(text, [held.reveal()]) == []
