"""The production layout (compose/) parsed and checked against the project's own settings.

There is no Docker engine here, so nothing runs the compose file; these checks make sure it
still says what the code means: commands that exist, WXCC_* variables that are settings and
load, ports and bootstrap lists that match, replication that survives a broker, and a
Prometheus that scrapes every service where it serves /metrics.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.test_layout import SERVICE_FOLDERS
from wxcc_stream.base.settings import ENV_PREFIX, Settings, load_settings
from wxcc_stream.cli import build_parser
from wxcc_stream.devtools.simulator.options import parse_duration_ms

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose" / "docker-compose.yml"
PROMETHEUS = ROOT / "compose" / "prometheus.yml"
# where each service serves /metrics: the settings field holding its port
METRICS_PORT = {"ingress": ("ingress", "port"), "worker": ("worker", "web_port"),
                "api": ("api", "port")}  # fmt: skip


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def _services() -> dict[str, Any]:
    services: dict[str, Any] = _compose()["services"]
    return services


def _app_services() -> dict[str, Any]:
    return {n: s for n, s in _services().items() if s.get("command", [""])[0] == "wxcc-stream"}


def _kafka_services() -> dict[str, Any]:
    return {n: s for n, s in _services().items() if str(s.get("image", "")).startswith(
        "apache/kafka")}  # fmt: skip


def setting_env_names() -> Iterator[str]:
    """Every WXCC_* variable the settings read (named as `load_settings` names them)."""
    defaults = Settings()
    for f in dataclasses.fields(Settings):
        section = getattr(defaults, f.name)
        if dataclasses.is_dataclass(section):
            for sub in dataclasses.fields(section):
                yield f"{ENV_PREFIX}{f.name}_{sub.name}".upper()
        else:
            yield f"{ENV_PREFIX}{f.name}".upper()


def _env(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's environment as a container sees it, `${VAR:?..}` given a sample value."""
    env = {}
    for key, value in (service.get("environment") or {}).items():
        text = str(value)
        text = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", text)
        text = re.sub(r"\$\{([A-Z_]+):\?[^}]*\}", lambda m: _sample(m.group(1)), text)
        env[key] = text
    return env


def _sample(name: str) -> str:
    return {"WXCC_INGRESS_SECRETS": "sub-1=0123456789abcdef0123456789abcdef",
            "WXCC_API_TOKENS": "wallboard-token-0123456789=*",
            "WXCC_RECONCILE_ORG_ID": "org-1", "WXCC_RECONCILE_CLIENT_ID": "client-1",
            "WXCC_RECONCILE_CLIENT_SECRET": "secret-1",
            "WXCC_RECONCILE_SOURCE": "/com/cisco/wxcc/sub-1"}[name]  # fmt: skip


def test_the_known_setting_names_are_found() -> None:
    names = set(setting_env_names())
    assert {"WXCC_KAFKA_BOOTSTRAP", "WXCC_WORKER_WEB_PORT", "WXCC_API_TOKENS"} <= names


@pytest.mark.parametrize("name", sorted(_app_services()))
def test_every_service_runs_a_command_that_exists(name: str) -> None:
    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert _app_services()[name]["command"][1] in commands


@pytest.mark.parametrize("name", sorted(_app_services()))
def test_every_variable_is_a_setting_and_the_environment_loads(name: str) -> None:
    env = _env(_app_services()[name])
    unknown = sorted(set(env) - set(setting_env_names()))
    assert unknown == []
    settings = load_settings(env)
    # the bootstrap list names the cluster's brokers on their client listener
    kafka = _kafka_services()
    for address in settings.kafka.bootstrap.split(","):
        host, port = address.split(":")
        assert host in kafka, address
        advertised = _env(kafka[host])["KAFKA_ADVERTISED_LISTENERS"]
        assert advertised == f"PLAINTEXT://{host}:{port}"


def test_a_service_listens_beyond_the_container_where_it_is_scraped_or_called() -> None:
    for name, (section, field) in METRICS_PORT.items():
        settings = load_settings(_env(_app_services()[name]))
        sub = getattr(settings, section)
        host = sub.web_host if field == "web_port" else sub.host
        assert host == "0.0.0.0", name
        assert str(getattr(sub, field)) in [str(p) for p in _app_services()[name]["expose"]]


def test_prometheus_scrapes_every_service_on_its_metrics_port() -> None:
    config = yaml.safe_load(PROMETHEUS.read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == set(METRICS_PORT) | {"reconcile"}
    for name, (section, field) in METRICS_PORT.items():
        settings = load_settings(_env(_app_services()[name]))
        (sd,) = jobs[name]["dns_sd_configs"]
        assert sd["names"] == [name]
        assert sd["port"] == getattr(getattr(settings, section), field)
    prometheus = _services()["prometheus"]
    assert any(v.startswith("./prometheus.yml:") for v in prometheus["volumes"])


def test_replication_survives_a_broker_and_acknowledged_writes_are_on_two() -> None:
    kafka = _kafka_services()
    assert len(kafka) == 3
    voters = {f"{i}@{name}:9093" for i, name in enumerate(sorted(kafka), start=1)}
    for service in kafka.values():
        env = _env(service)
        assert set(env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")) == voters
        assert int(env["KAFKA_DEFAULT_REPLICATION_FACTOR"]) == 3
        assert int(env["KAFKA_MIN_INSYNC_REPLICAS"]) == 2
        assert int(env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"]) == 2
    for name in _app_services():
        topic = load_settings(_env(_app_services()[name])).topic
        assert (topic.replication_factor, topic.min_insync_replicas) == (3, 2)


def test_the_image_holds_every_service_folder() -> None:
    copied = re.findall(r"^COPY (\S+) ", (ROOT / "compose" / "Dockerfile").read_text(), re.M)
    assert set(SERVICE_FOLDERS) <= set(copied)


def test_the_reconcile_job_is_a_scheduled_service_prometheus_scrapes() -> None:
    service = _app_services()["reconcile"]
    args = build_parser().parse_args(service["command"][1:])
    assert parse_duration_ms(args.every) == 3_600_000  # hourly, well inside the 6 h horizon
    assert args.metrics_host == "0.0.0.0"
    assert args.metrics_file is None
    assert args.since is None  # rolling: from its checkpoint to now - settle
    assert args.until is None
    assert str(args.metrics_port) in [str(p) for p in service["expose"]]
    assert service["restart"] == "unless-stopped"
    config = yaml.safe_load(PROMETHEUS.read_text())
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "reconcile"]
    assert job["dns_sd_configs"] == [
        {"names": ["reconcile"], "type": "A", "port": args.metrics_port}
    ]
    # what the job needs to run at all is required, so a missing value stops `compose up`
    required = {k for k, v in service["environment"].items() if ":?" in str(v)}
    assert {"WXCC_RECONCILE_ORG_ID", "WXCC_RECONCILE_CLIENT_ID", "WXCC_RECONCILE_CLIENT_SECRET",
            "WXCC_RECONCILE_SOURCE"} <= required  # fmt: skip
    settings = load_settings(_env(service))
    assert settings.reconcile.source.startswith("/com/cisco/wxcc/")
    assert settings.reconcile.base_url.startswith("https://")
