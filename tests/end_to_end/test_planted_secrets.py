r"""Secrets end to end: a distinct secret planted in every credential source, and none printed.

One real ``archlag`` at ``--log.level debug`` reads a secret from each source it has:

============================  ===========================================  ======================
source                        planted value                                sent to
============================  ===========================================  ======================
``password_env``              a password ending in ``\n``                  a real htpasswd registry
``password_file``             a password ending in ``\r\n``                a real htpasswd registry
docker config ``auth``        base64 of user:password                      a real htpasswd registry
``token_env``                 a token ending in ``\n``                     a hostile registry that
                                                                           echoes it back
``token_file``                a token ending in ``\n``                     the same
docker config                 a refresh token                              a hostile token realm
``identitytoken``                                                          that echoes the form,
                                                                           then tokens it issued
``password_env`` (Basic)      a password                                   a hostile Basic
                                                                           registry that echoes it
docker config ``password``    a password ending in ``\n``                  nowhere: refused before
                                                                           anything is sent
============================  ===========================================  ======================

The hostile registries repeat what they were sent (``Authorization`` headers, token forms) in
error bodies, ``Warning`` headers and challenge realms, for a repository ``echo/denied`` next to
a sound ``echo/app``. Each secret must work where it is meant to (the tags are read), and no
printed form of any of them (as is, stripped, escaped, JSON, URL-encoded, base64, and the Basic
``user:password`` pairs; tests/support/planted.py), nor any token a realm issued, may appear in
the log, on any page or endpoint, or in the state file and its WAL.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from tests.conftest import running_registry
from tests.support.archlag_process import ArchlagProcess, Scrape
from tests.support.hostile_answers import echo_authorization, echo_body
from tests.support.hostile_fronts import BasicAuth, BearerAuth, TokenServer
from tests.support.hostile_http import Front
from tests.support.hostile_registry import HostileRegistry
from tests.support.planted import basic_forms, printed_forms
from tests.support.pusher import Pusher

pytestmark = pytest.mark.integration

PLATFORMS = ["linux/amd64", "linux/arm64"]


def planted(kind: str) -> str:
    """A distinct secret, recognisable in a failure message only by its kind."""
    return f"planted-{kind}-{secrets.token_hex(8)}"


@dataclass
class Planted:
    """Everything the test planted, and where archlag should have used it."""

    secrets: list[str] = field(default_factory=list)  # every value, as written to its source
    pairs: list[tuple[str, str]] = field(default_factory=list)  # Basic user, password
    working: list[tuple[str, str]] = field(default_factory=list)  # (registry, repository) ok
    hostile: dict[str, HostileRegistry] = field(default_factory=dict)
    token_servers: list[TokenServer] = field(default_factory=list)
    environment: dict[str, str] = field(default_factory=dict)

    def forms(self) -> list[str]:
        found = [form for value in self.secrets for form in printed_forms(value)]
        found += [form for pair in self.pairs for form in basic_forms(*pair)]
        found += [token for server in self.token_servers for token in server.tokens]
        return [form for form in dict.fromkeys(found) if len(form) >= 8]


def docker_config(path: Path, host: str, entry: dict[str, str]) -> str:
    path.write_text(json.dumps({"auths": {host: entry}}))
    return str(path)


def real_registries(stack: ExitStack, workdir: Path, found: Planted) -> dict[str, dict[str, Any]]:
    """Three htpasswd registries, each with one complete tag, and how archlag reaches each."""
    registries: dict[str, dict[str, Any]] = {}
    for source in ("password_env", "password_file", "docker_auth"):
        user, password = f"user-{source}", planted(source)
        registry = stack.enter_context(running_registry(workdir / source, users={user: password}))
        with Pusher(registry.url, auth=(user, password)) as pusher:
            images = [pusher.push_image("private/app", p) for p in PLATFORMS]
            pusher.push_index("private/app", "1.0", images)
        settings: dict[str, object] = {"insecure": True}
        if source == "password_env":
            found.environment["ARCHLAG_E2E_PASSWORD"] = password + "\n"
            settings |= {"username": user, "password_env": "ARCHLAG_E2E_PASSWORD"}
            found.secrets.append(password + "\n")
        elif source == "password_file":
            (workdir / "password").write_text(password + "\r\n")
            settings |= {"username": user, "password_file": str(workdir / "password")}
            found.secrets.append(password + "\r\n")
        else:
            auth = base64.b64encode(f"{user}:{password}".encode()).decode()
            settings["docker_config"] = docker_config(
                workdir / "auth.json", registry.host, {"auth": auth}
            )
            found.secrets += [password, auth]
        found.pairs.append((user, password))
        registries[registry.host] = settings
        found.working.append((registry.host, "private/app"))
    return registries


def hostile(
    stack: ExitStack, found: Planted, name: str, front: Front | None = None
) -> HostileRegistry:
    registry = stack.enter_context(HostileRegistry(front=front))
    registry.repository("echo/app").publish("1.0", PLATFORMS)
    registry.repository("echo/denied").on_listing(echo_authorization())
    found.hostile[name] = registry
    found.working.append((registry.host, "echo/app"))
    return registry


def hostile_registries(
    stack: ExitStack, workdir: Path, found: Planted
) -> dict[str, dict[str, Any]]:
    """The registries that echo what they are sent, and how archlag reaches each."""
    registries: dict[str, dict[str, Any]] = {}
    token = planted("token_env")
    found.environment["ARCHLAG_E2E_TOKEN"] = token + "\n"
    registry = hostile(stack, found, "token_env")
    registries[registry.host] = {"insecure": True, "token_env": "ARCHLAG_E2E_TOKEN"}
    token_file = planted("token_file")
    (workdir / "token").write_text(token_file + "\n")
    registry = hostile(stack, found, "token_file")
    registries[registry.host] = {"insecure": True, "token_file": str(workdir / "token")}
    found.secrets += [token + "\n", token_file + "\n"]

    identity = planted("identitytoken")
    server = TokenServer(broken=echo_body())
    found.token_servers.append(server)
    registry = hostile(stack, found, "identitytoken", BearerAuth(server=server))
    path = docker_config(workdir / "identity.json", registry.host, {"identitytoken": identity})
    registries[registry.host] = {"insecure": True, "docker_config": path}

    user, password = "user-basic", planted("basic")
    found.environment["ARCHLAG_E2E_BASIC"] = password
    registry = hostile(stack, found, "basic", BasicAuth(user, password, echo=True, deny="echo/d"))
    registries[registry.host] = {
        "insecure": True,
        "username": user,
        "password_env": "ARCHLAG_E2E_BASIC",
    }
    found.secrets += [identity, password]
    found.pairs.append((user, password))

    refused = planted("docker_password")
    registry = stack.enter_context(HostileRegistry())
    found.hostile["refused"] = registry
    entry = {"username": "user-refused", "password": refused + "\n"}
    path = docker_config(workdir / "refused.json", registry.host, entry)
    registries[registry.host] = {"insecure": True, "docker_config": path}
    found.secrets.append(refused + "\n")
    found.pairs.append(("user-refused", refused + "\n"))
    return registries


@dataclass
class Run:
    archlag: ArchlagProcess
    planted: Planted
    images: list[str]
    state_file: Path


def status_of(scrape: Scrape, registry: str, repository: str) -> str | None:
    series = scrape.series("archlag_watch_status", registry=registry, repository=repository)
    return next((dict(k)["status"] for k, v in series.items() if v == 1), None)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    workdir = tmp_path_factory.mktemp("secrets")
    found = Planted()
    with ExitStack() as stack, pytest.MonkeyPatch.context() as environment:
        registries = real_registries(stack, workdir, found)
        registries |= hostile_registries(stack, workdir, found)
        for name, value in found.environment.items():
            environment.setenv(name, value)
        refused_host = found.hostile["refused"].host
        images = [f"{host}/{repo}" for host, repo in found.working]
        images += [f"{r.host}/echo/denied" for n, r in found.hostile.items() if n != "refused"]
        images.append(f"{refused_host}/echo/app")
        state_file = workdir / "state.db"
        config = {
            "state_file": str(state_file),
            "defaults": {"interval": "500ms"},
            "registries": registries,
            "watches": [{"image": image} for image in images],
        }
        archlag = stack.enter_context(ArchlagProcess(workdir, config))
        identity_server = found.token_servers[0]
        archlag.wait_for(lambda _: bool(identity_server.tokens or identity_server_asked(found)))
        identity_server.heal()  # the form was echoed once; now hand out tokens
        archlag.wait_for(
            lambda s: (
                all(
                    s.value("archlag_tag_complete", registry=host, repository=repo, tag="1.0") == 1
                    for host, repo in found.working
                )
                and status_of(s, refused_host, "echo/app") == "unauthorized"
            ),
            timeout=60,
            what="every credential used",
        )
        yield Run(archlag, found, images, state_file)


def identity_server_asked(found: Planted) -> bool:
    return bool(found.hostile["identitytoken"].requests("/token"))


def test_every_planted_credential_was_used_as_meant(run: Run) -> None:
    found = run.planted
    for name in ("token_env", "token_file"):
        token = next(s for s in found.secrets if name in s).rstrip("\n")
        sent = {r.headers.get("authorization") for r in found.hostile[name].requests("/v2/echo")}
        assert sent == {f"Bearer {token}"}, "sent as is, without its trailing newline"
    forms = [
        parse_qs(r.body.decode()) for r in found.hostile["identitytoken"].requests("/token", "POST")
    ]
    identity = next(s for s in found.secrets if "identitytoken" in s)
    assert {"grant_type": ["refresh_token"], "refresh_token": [identity]}.items() <= {
        k: v for form in forms for k, v in form.items()
    }.items()
    refused = found.hostile["refused"].requests()
    assert not [r for r in refused if "authorization" in r.headers], "nothing sent"
    scrape = run.archlag.scrape()
    for name in ("token_env", "token_file", "identitytoken", "basic"):
        host = found.hostile[name].host
        assert status_of(scrape, host, "echo/denied") == "denied", "and the echo was heard"


def surfaces(run: Run) -> dict[str, str]:
    """Every text a user, a scraper or a reader of the state file can see."""
    url = run.archlag.url
    pages = {
        "/": httpx.get(f"{url}/", timeout=10).text,
        "/metrics": httpx.get(f"{url}/metrics", timeout=10).text,
        "/metrics (OpenMetrics)": httpx.get(
            f"{url}/metrics", headers={"Accept": "application/openmetrics-text"}, timeout=10
        ).text,
        "/-/config": httpx.get(f"{url}/-/config", timeout=10).text,
        "/-/ready": httpx.get(f"{url}/-/ready", timeout=10).text,
        "/-/healthy": httpx.get(f"{url}/-/healthy", timeout=10).text,
        "/api/v1/watches": httpx.get(f"{url}/api/v1/watches", timeout=10).text,
    }
    for image in run.images:
        tags = httpx.get(f"{url}/api/v1/tags", params={"image": image}, timeout=10)
        pages[f"/api/v1/tags?image={image}"] = tags.text
        pages[f"/api/v1/renovate/{image}"] = httpx.get(
            f"{url}/api/v1/renovate/{image}", timeout=10
        ).text
    pages["log"] = run.archlag.log_path.read_text(errors="replace")
    for suffix in ("", "-wal", "-shm"):
        path = Path(f"{run.state_file}{suffix}")
        if path.exists():
            pages[f"state file{suffix}"] = path.read_bytes().decode("latin-1")
    return pages


def test_no_planted_secret_is_printed_anywhere(run: Run) -> None:
    forms = run.planted.forms()
    assert len(forms) > 50, "every secret, in every printed form"
    seen = surfaces(run)
    assert "echo/denied" in seen["/"], "the echoing watches are on the page"
    leaked = {where: [f for f in forms if f in text] for where, text in seen.items()}
    assert not {where: found for where, found in leaked.items() if found}
