"""Credentials from a Docker config.json: auths, tokens, credential helpers run for real."""

from __future__ import annotations

import base64
import json
import logging
import os
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest

from archlag.registry import (
    BasicCredentials,
    Credentials,
    CredentialsError,
    DockerConfigCredentials,
    IdentityToken,
    RegistryClient,
    RegistryError,
    RegistryToken,
    RetryPolicy,
    UnauthorizedError,
    docker_config,
    fetch_content,
)
from archlag.registry.docker_config import HelperError
from archlag.secrets import Secret
from tests.support.mock_registry import mock_client
from tests.support.pusher import Pusher
from tests.support.registry_server import RegistryServer

pytestmark = pytest.mark.anyio

PASSWORD = "planted-config-password"
HELPER_SECRET = "planted-helper-secret"
HELPER_TOKEN = "planted-helper-identity-token"
ALL_SECRETS = (PASSWORD, HELPER_SECRET, HELPER_TOKEN)
HUB = "https://index.docker.io/v1/"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


ALICE = BasicCredentials("alice", Secret(PASSWORD))

# A credential helper as Docker runs it: `docker-credential-<name> get`, server URL on stdin.
FAKE_HELPER = f"""#!/bin/sh
read -r server
echo "$1 $server" >> "$(dirname "$0")/calls.log"
case "$server" in
  ghcr.io) printf '{{"ServerURL": "ghcr.io", "Username": "bob", "Secret": "{HELPER_SECRET}"}}' ;;
  {HUB}) printf '{{"Username": "<token>", "Secret": "{HELPER_TOKEN}"}}' ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
"""
BROKEN_HELPER = f"""#!/bin/sh
echo "{HELPER_SECRET} oops" ; echo "{HELPER_SECRET} on stderr" >&2 ; exit 2
"""
GARBLED_HELPER = f"""#!/bin/sh
echo "Username={HELPER_SECRET}"
"""
SLOW_HELPER = """#!/bin/sh
sleep 5
"""


@pytest.fixture
def helpers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory of fake credential helpers, first on PATH."""
    directory = tmp_path / "bin"
    directory.mkdir()
    for name, script in [
        ("fake", FAKE_HELPER),
        ("broken", BROKEN_HELPER),
        ("garbled", GARBLED_HELPER),
        ("slow", SLOW_HELPER),
    ]:
        path = directory / f"docker-credential-{name}"
        path.write_text(script)
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{directory}{os.pathsep}{os.environ['PATH']}")
    return directory


def calls(helpers: Path) -> list[str]:
    log = helpers / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


def write_config(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "config.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# -- auths ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("auths", "registry", "expected"),
    [
        pytest.param({HUB: {"auth": b64(f"alice:{PASSWORD}")}}, "docker.io", ALICE, id="hub-key"),
        pytest.param(
            {HUB: {"auth": b64(f"alice:{PASSWORD}")}}, "registry-1.docker.io", ALICE, id="hub-api"
        ),
        pytest.param(
            {"index.docker.io": {"auth": b64(f"alice:{PASSWORD}")}},
            "docker.io",
            ALICE,
            id="hub-legacy-host",
        ),
        pytest.param(
            {"registry-1.docker.io": {"username": "alice", "password": PASSWORD}},
            "docker.io",
            ALICE,
            id="hub-api-host-key",
        ),
        pytest.param(
            {"https://ghcr.io/v1/": {"auth": b64(f"alice:{PASSWORD}")}},
            "ghcr.io",
            ALICE,
            id="url-key",
        ),
        pytest.param(
            {"GHCR.io": {"username": "alice", "password": PASSWORD}}, "ghcr.io", ALICE, id="case"
        ),
        pytest.param(
            {"ghcr.io": {"auth": b64("alice:pa:ss")}},
            "ghcr.io",
            BasicCredentials("alice", Secret("pa:ss")),
            id="colon-in-password",
        ),
        pytest.param(
            {"127.0.0.1:5000": {"auth": b64(f"alice:{PASSWORD}")}},
            "127.0.0.1:5000",
            ALICE,
            id="host-and-port",
        ),
        pytest.param(
            {"quay.io": {"auth": b64("x:y"), "identitytoken": HELPER_TOKEN}},
            "quay.io",
            IdentityToken(Secret(HELPER_TOKEN)),
            id="identitytoken-wins",
        ),
        pytest.param(
            {"harbor.example": {"registrytoken": PASSWORD}},
            "harbor.example",
            RegistryToken(Secret(PASSWORD)),
            id="registrytoken",
        ),
        pytest.param(
            {"ghcr.io": {}, "https://ghcr.io": {"auth": b64(f"alice:{PASSWORD}")}},
            "ghcr.io",
            ALICE,
            id="empty-entry-skipped",
        ),
        pytest.param({"ghcr.io": {"auth": ""}}, "ghcr.io", None, id="empty-auth"),
        pytest.param({"quay.io": {"auth": b64("a:b")}}, "ghcr.io", None, id="other-host"),
        pytest.param(
            {"ghcr.io.evil.example": {"auth": b64("a:b")}}, "ghcr.io", None, id="suffix-host"
        ),
        pytest.param({"docker.io": {"auth": b64("a:b")}}, "quay.io", None, id="hub-not-quay"),
        pytest.param(None, "ghcr.io", None, id="no-auths"),
    ],
)
async def test_auths_entries(
    tmp_path: Path, auths: dict[str, Any] | None, registry: str, expected: Credentials | None
) -> None:
    document = {} if auths is None else {"auths": auths}
    source = DockerConfigCredentials(write_config(tmp_path, document), registry)
    assert await source.credentials() == expected


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(None, "cannot read it", id="missing"),
        pytest.param(f'{{"auths": {{"ghcr.io": {{"auth": "{PASSWORD}', "not valid JSON", id="json"),
        pytest.param([], "not a JSON object", id="list"),
        pytest.param({"auths": []}, "auths is not a JSON object", id="auths-list"),
        pytest.param({"auths": {"ghcr.io": PASSWORD}}, "is not a JSON object", id="entry-text"),
        pytest.param(
            {"auths": {"ghcr.io": {"auth": PASSWORD + "!"}}}, "not base64", id="not-base64"
        ),
        pytest.param({"auths": {"ghcr.io": {"auth": b64(PASSWORD)}}}, "not base64", id="no-colon"),
        pytest.param({"auths": {"ghcr.io": {"auth": 12}}}, "not a string", id="auth-number"),
        pytest.param({"credsStore": "../../bin/sh"}, "not a plain name", id="helper-path"),
        pytest.param({"credHelpers": ["ghcr.io"]}, "credHelpers is not", id="helpers-list"),
    ],
)
async def test_unusable_config_is_a_credentials_error_without_secrets(
    tmp_path: Path, content: Any, message: str
) -> None:
    path = tmp_path / "config.json" if content is None else write_config(tmp_path, content)
    source = DockerConfigCredentials(path, "ghcr.io")
    with pytest.raises(CredentialsError, match=message) as info:
        await source.credentials()
    assert info.value.result == "unauthorized"
    assert isinstance(info.value, RegistryError)
    assert str(path) in str(info.value)
    assert PASSWORD not in str(info.value)


# -- credential helpers ----------------------------------------------------------------------


async def test_cred_helper_runs_with_the_host_on_stdin(helpers: Path, tmp_path: Path) -> None:
    path = write_config(tmp_path, {"credHelpers": {"ghcr.io": "fake"}})
    found = await DockerConfigCredentials(path, "ghcr.io").credentials()
    assert found == BasicCredentials("bob", Secret(HELPER_SECRET))
    assert calls(helpers) == ["get ghcr.io"]


async def test_creds_store_for_docker_hub_returns_an_identity_token(
    helpers: Path, tmp_path: Path
) -> None:
    path = write_config(tmp_path, {"credsStore": "fake", "auths": {HUB: {}}})
    found = await DockerConfigCredentials(path, "docker.io").credentials()
    assert found == IdentityToken(Secret(HELPER_TOKEN))
    assert calls(helpers) == [f"get {HUB}"]


async def test_cred_helpers_win_over_creds_store(helpers: Path, tmp_path: Path) -> None:
    path = write_config(tmp_path, {"credsStore": "broken", "credHelpers": {"ghcr.io": "fake"}})
    found = await DockerConfigCredentials(path, "ghcr.io").credentials()
    assert found == BasicCredentials("bob", Secret(HELPER_SECRET))


async def test_helper_without_credentials_falls_back_to_auths(
    helpers: Path, tmp_path: Path
) -> None:
    document = {"credsStore": "fake", "auths": {"quay.io": {"auth": b64(f"alice:{PASSWORD}")}}}
    path = write_config(tmp_path, document)
    assert await DockerConfigCredentials(path, "quay.io").credentials() == ALICE
    assert await DockerConfigCredentials(path, "gcr.io").credentials() is None
    assert calls(helpers) == ["get quay.io", "get gcr.io"]


@pytest.mark.parametrize(
    ("helper", "message"),
    [
        pytest.param("missing", "docker-credential-missing not found on PATH", id="missing"),
        pytest.param("broken", "docker-credential-broken exited with status 2", id="failing"),
        pytest.param("garbled", "did not answer with a JSON", id="garbled"),
    ],
)
async def test_failing_helpers_never_leak_what_they_printed(
    helpers: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, helper: str, message: str
) -> None:
    caplog.set_level(logging.DEBUG)
    path = write_config(tmp_path, {"credHelpers": {"ghcr.io": helper}})
    source = DockerConfigCredentials(path, "ghcr.io")
    with pytest.raises(CredentialsError, match=message) as info:
        await source.credentials()
    assert info.value.result == "unauthorized"
    assert "credentials_failed registry=ghcr.io" in caplog.text
    for text in (str(info.value), repr(info.value), repr(source), caplog.text):
        assert HELPER_SECRET not in text


async def test_slow_helper_times_out(
    helpers: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(docker_config, "HELPER_TIMEOUT", 0.3)
    path = write_config(tmp_path, {"credHelpers": {"ghcr.io": "slow"}})
    with pytest.raises(CredentialsError, match=r"did not answer within 0\.3 s"):
        await DockerConfigCredentials(path, "ghcr.io").credentials()


async def test_results_are_cached_for_five_minutes_and_failures_for_thirty_seconds(
    helpers: Path, tmp_path: Path
) -> None:
    clock = Clock()
    path = write_config(tmp_path, {"credHelpers": {"ghcr.io": "fake"}})
    source = DockerConfigCredentials(path, "ghcr.io", clock=clock)
    for now in (0.0, 100.0, 299.0):
        clock.now = now
        await source.credentials()
    assert len(calls(helpers)) == 1
    clock.now = 300.0
    await source.credentials()
    assert len(calls(helpers)) == 2

    write_config(tmp_path, "{ broken")  # the user edits the file
    clock.now = 601.0
    for now in (601.0, 620.0):
        clock.now = now
        with pytest.raises(CredentialsError):
            await source.credentials()
    clock.now = 632.0
    write_config(tmp_path, {"credHelpers": {"ghcr.io": "fake"}})  # and fixes it
    assert await source.credentials() == BasicCredentials("bob", Secret(HELPER_SECRET))


async def test_the_helper_runner_is_injectable(tmp_path: Path) -> None:
    asked: list[tuple[str, str]] = []

    async def runner(program: str, server_url: str) -> bytes:
        asked.append((program, server_url))
        if server_url == "quay.io":
            raise HelperError("no such thing", not_found=True)
        return json.dumps({"Username": "carol", "Secret": "s3"}).encode()

    path = write_config(tmp_path, {"credsStore": "desktop"})
    assert await DockerConfigCredentials(path, "ghcr.io", run_helper=runner).credentials() == (
        BasicCredentials("carol", Secret("s3"))
    )
    assert await DockerConfigCredentials(path, "quay.io", run_helper=runner).credentials() is None
    assert asked == [
        ("docker-credential-desktop", "ghcr.io"),
        ("docker-credential-desktop", "quay.io"),
    ]


# -- end to end through the registry client ---------------------------------------------------


async def test_client_with_docker_config_never_shows_a_secret(
    helpers: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    document = {
        "auths": {"127.0.0.1:5000": {"auth": b64(f"alice:{PASSWORD}")}},
        "credHelpers": {"ghcr.io": "fake"},
    }
    path = write_config(tmp_path, document)
    expected = "Basic " + b64(f"alice:{PASSWORD}")

    def basic_registry(request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != expected:
            return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="basic-realm"'})
        # A registry that echoes what it got (a debugging proxy, say).
        message = f"{PASSWORD} {request.headers['authorization']}"
        return httpx.Response(400, json={"errors": [{"code": "DENIED", "message": message}]})

    def token_registry(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            message = f"bad {request.headers['authorization']}"
            return httpx.Response(401, json={"errors": [{"code": "DENIED", "message": message}]})
        challenge = 'Bearer realm="https://ghcr.io/token",service="ghcr.io"'
        return httpx.Response(401, headers={"WWW-Authenticate": challenge})

    errors: list[RegistryError] = []
    for name, base, handler in [
        ("127.0.0.1:5000", "http://127.0.0.1:5000", basic_registry),
        ("ghcr.io", "https://ghcr.io", token_registry),
    ]:
        client = mock_client(
            handler,
            base,
            name=name,
            credentials=DockerConfigCredentials(path, name),
            retry=RetryPolicy(attempts=1),
        )
        async with client:
            with pytest.raises(RegistryError) as info:
                await client.get_manifest("demo/app", "1.0")
        errors.append(info.value)
        texts = [str(info.value), repr(info.value), repr(client), caplog.text]
        for text in texts:
            for secret in (*ALL_SECRETS, b64(f"alice:{PASSWORD}"), b64(f"bob:{HELPER_SECRET}")):
                assert secret not in text
    assert [e.result for e in errors] == ["error", "unauthorized"]
    assert all("***" in str(e) for e in errors)  # the echoes were there, and were scrubbed


# -- the real registry ------------------------------------------------------------------------


@pytest.mark.integration
async def test_real_htpasswd_registry_with_auths_and_with_a_helper(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """distribution 2.8.2 with htpasswd Basic auth, credentials from a docker config file:
    once from ``auths``, once from a credential helper process."""
    user, password = "ci", PASSWORD
    with RegistryServer(tmp_path / "registry", users={user: password}) as server:
        with Pusher(server.url, auth=(user, password)) as pusher:
            children = [pusher.push_image("private/app", p) for p in ("linux/amd64", "linux/arm64")]
            index_digest = pusher.push_index("private/app", "1.0", children)

        helper = tmp_path / "bin" / "docker-credential-ci"
        helper.parent.mkdir()
        helper.write_text(
            f"#!/bin/sh\nread -r server\n"
            f'[ "$server" = "{server.host}" ] || exit 3\n'
            f'printf \'{{"Username": "{user}", "Secret": "{password}"}}\'\n'
        )
        helper.chmod(0o755)
        monkeypatch.setenv("PATH", f"{helper.parent}{os.pathsep}{os.environ['PATH']}")
        configs = [
            {"auths": {f"http://{server.host}": {"auth": b64(f"{user}:{password}")}}},
            {"credHelpers": {server.host: "ci"}},
        ]
        for number, document in enumerate(configs):
            directory = tmp_path / f"config{number}"
            directory.mkdir()
            path = write_config(directory, document)
            client = RegistryClient(
                server.host, server.url, credentials=DockerConfigCredentials(path, server.host)
            )
            async with client:
                content = await fetch_content(client, "private/app", "1.0")
            assert content.digest == index_digest
            assert {str(p) for p in content.platforms} == {"linux/amd64", "linux/arm64"}

        anonymous = RegistryClient(server.host, server.url)
        async with anonymous:
            with pytest.raises(UnauthorizedError, match="none are configured"):
                await anonymous.head_manifest("private/app", "1.0")
