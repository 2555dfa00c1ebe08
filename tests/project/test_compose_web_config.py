"""The Compose demo's TLS and Basic authentication option (compose.web.yml), checked without an
engine: the merged Compose file, archlag's flag and the mounted web.yml, Prometheus' scrape."""

from __future__ import annotations

from pathlib import Path

import yaml

from archlag.cli import _parser
from archlag.web.web_config import parse_web_config
from tests.support.certificates import CertificateAuthority
from tests.support.deploy import COMPOSE_DIR, RULES, load_yaml, run, tool

OVERRIDE = COMPOSE_DIR / "compose.web.yml"


def test_the_override_passes_docker_compose_config_with_the_demo(tmp_path: Path) -> None:
    base = {k: v for k, v in load_yaml(COMPOSE_DIR / "compose.yml").items() if k != "name"}
    (tmp_path / "compose.yml").write_text(yaml.safe_dump(base), encoding="utf-8")
    result = run(
        [tool("docker-compose", "docker-compose"), "-f", str(tmp_path / "compose.yml"), "-f",
         str(OVERRIDE), "--project-directory", str(COMPOSE_DIR), "config"]
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    merged = yaml.safe_load(result.stdout)["services"]
    assert merged["prometheus"]["ports"], "the base demo's settings are kept"
    targets = {v["target"] if isinstance(v, dict) else v for v in merged["prometheus"]["volumes"]}
    assert any("/etc/prometheus/prometheus.yml" in str(t) for t in targets)


def test_archlag_reads_the_mounted_web_config(tmp_path: Path) -> None:
    archlag = load_yaml(OVERRIDE)["services"]["archlag"]
    args = _parser().parse_args(archlag["command"])
    assert args.config == "/etc/archlag/config.yml", "the demo's configuration, as before"
    web = Path(args.web_config)
    (mount,) = [v for v in archlag["volumes"] if v.split(":")[1] == str(web.parent)]
    source = COMPOSE_DIR / mount.split(":")[0]
    assert mount.endswith(":ro")
    config = parse_web_config((source / web.name).read_text(encoding="utf-8"), web.parent)
    assert config.tls is not None
    assert config.tls.cert_file.parent == web.parent
    assert "prometheus" in config.users


def test_prometheus_scrapes_archlag_over_tls_with_basic_auth(tmp_path: Path) -> None:
    prometheus = load_yaml(OVERRIDE)["services"]["prometheus"]
    mounts = dict(reversed(v.split(":")[:2]) for v in prometheus["volumes"])
    config_text = (COMPOSE_DIR / mounts["/etc/prometheus/prometheus.yml"]).read_text()
    web_dir = next(target for target, source in mounts.items() if source == "./web")
    ca = CertificateAuthority(tmp_path / "archlag-web")
    (tmp_path / "archlag-web" / "ca.crt").write_bytes(ca.cert.read_bytes())
    (tmp_path / "archlag-web" / "prometheus-password").write_text("secret", encoding="utf-8")
    (tmp_path / "archlag.rules.yml").write_bytes(RULES.read_bytes())
    laid_out = tmp_path / "prometheus.yml"
    laid_out.write_text(config_text.replace(web_dir, str(tmp_path / "archlag-web")))
    job = next(
        j for j in yaml.safe_load(config_text)["scrape_configs"] if j["job_name"] == "archlag"
    )
    assert job["scheme"] == "https"
    assert (
        job["basic_auth"]["username"]
        in parse_web_config(
            (COMPOSE_DIR / "web" / "web.yml").read_text(), Path("/etc/archlag/web")
        ).users
    )
    result = run([tool("promtool", "prometheus"), "check", "config", str(laid_out)])
    assert result.returncode == 0, result.stdout + result.stderr
