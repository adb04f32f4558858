"""Settings: read from env and file, converted, checked with messages that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from wxcc_stream.base.settings import Settings, SettingsError, is_secret, load_settings


def test_defaults_follow_the_design() -> None:
    s = load_settings({})
    assert s.kafka.bootstrap == "127.0.0.1:9092"
    assert s.topic.prefix == "wxcc"
    assert (s.ingress.host, s.ingress.port, s.ingress.path) == ("127.0.0.1", 8080, "/webhooks/wxcc")
    assert (s.api.host, s.api.port) == ("127.0.0.1", 8081)
    assert s.topic.raw == "wxcc.raw"
    assert s.topic.agent_state == "wxcc.projection.agent-state"
    assert s.topic.task_lifecycle == "wxcc.projection.task-lifecycle"


def test_environment_sets_nested_fields_with_types() -> None:
    s = load_settings(
        {
            "WXCC_KAFKA_BOOTSTRAP": "10.0.0.1:9092",
            "WXCC_TOPIC_PREFIX": "staging",
            "WXCC_WORKER_GRACE_MS": "1500",
            "WXCC_INGRESS_VERIFY_SIGNATURES": "false",
            "WXCC_LOG_LEVEL": "DEBUG",
        }
    )
    assert s.kafka.bootstrap == "10.0.0.1:9092"
    assert s.topic.raw == "staging.raw"
    assert s.worker.grace_ms == 1500
    assert s.ingress.verify_signatures is False
    assert s.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"WXCC_INGRESS_PORT": "eighty"}, "WXCC_INGRESS_PORT: expected an integer"),
        ({"WXCC_INGRESS_PORT": "70000"}, "WXCC_INGRESS_PORT: 70000 is not a TCP port"),
        ({"WXCC_WORKER_GRACE_MS": "-1"}, "WXCC_WORKER_GRACE_MS: must be 0 or more"),
        ({"WXCC_TOPIC_PARTITIONS": "0"}, "WXCC_TOPIC_PARTITIONS: must be greater than 0"),
        ({"WXCC_WORKER_GENERATION": "-2"}, "WXCC_WORKER_GENERATION: 0 .follow"),
        ({"WXCC_INGRESS_VERIFY_SIGNATURES": "maybe"}, "expected true or false"),
        ({"WXCC_INGRESS_PUBLISH_DEADLINE_MS": "6000"}, "well under 5000"),
        ({"WXCC_INGRESS_PATH": "webhooks"}, "must start with '/'"),
        ({"WXCC_KAFKA_BOOTSTRAP": " "}, "WXCC_KAFKA_BOOTSTRAP: must not be empty"),
        ({"WXCC_TOPIC_REPLICATION_FACTOR": "0"}, "WXCC_TOPIC_REPLICATION_FACTOR: must be"),
        (
            {"WXCC_TOPIC_REPLICATION_FACTOR": "2", "WXCC_TOPIC_MIN_INSYNC_REPLICAS": "3"},
            "WXCC_TOPIC_MIN_INSYNC_REPLICAS: must not exceed WXCC_TOPIC_REPLICATION_FACTOR",
        ),
    ],
)
def test_bad_values_are_refused_with_the_variable_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(env)


def test_config_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    cfg = tmp_path / "wxcc.toml"
    cfg.write_text('[worker]\ngrace_ms = 700\n[topic]\nprefix = "fromfile"\n')
    s = load_settings({"WXCC_CONFIG": str(cfg), "WXCC_TOPIC_PREFIX": "fromenv"})
    assert s.worker.grace_ms == 700
    assert s.topic.prefix == "fromenv"


def test_config_file_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[worker\n")
    with pytest.raises(SettingsError, match="is not valid TOML"):
        load_settings({"WXCC_CONFIG": str(bad)})
    with pytest.raises(SettingsError, match="cannot read"):
        load_settings({"WXCC_CONFIG": str(tmp_path / "missing.toml")})


def test_settings_are_frozen() -> None:
    s = Settings()
    with pytest.raises(AttributeError):
        s.log_level = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("name", "secret"), [("secrets", True), ("client_secret", True), ("dsn", True), ("port", False)]
)
def test_secret_names_are_recognised(name: str, secret: bool) -> None:
    assert is_secret(name) is secret


def test_created_topics_carry_the_min_insync_replicas_of_the_settings() -> None:
    topic = load_settings(
        {"WXCC_TOPIC_REPLICATION_FACTOR": "3", "WXCC_TOPIC_MIN_INSYNC_REPLICAS": "2"}
    ).topic
    assert topic.replication_factor == 3
    assert topic.configs({"cleanup.policy": "compact"}) == {
        "min.insync.replicas": "2",
        "cleanup.policy": "compact",
    }
    assert load_settings({}).topic.configs() == {"min.insync.replicas": "1"}


def test_a_worker_of_a_generation_has_its_own_group_streams_outputs_and_partitions() -> None:
    from wxcc_stream.processors.replay.follow import settings_for_generation
    from wxcc_stream.processors.replay.generations import LiveGeneration
    from wxcc_stream.processors.shell.app import app_id
    from wxcc_stream.processors.shell.topology import topic_specs

    live = load_settings({"WXCC_TOPIC_PREFIX": "p"})
    assert live.worker.generation == 0  # follow the generations topic
    g1 = settings_for_generation(live, LiveGeneration(1))
    assert app_id(g1) == app_id(live) == "p.wxcc-stream"
    assert {s.name for s in topic_specs(g1, [])} == {s.name for s in topic_specs(live, [])}

    g3 = settings_for_generation(live, LiveGeneration(3, 6))
    assert app_id(g3) == "p.wxcc-stream.g3"
    specs = {s.name: s for s in topic_specs(g3, ["p.wxcc-stream.g3-agent-entities-changelog"])}
    assert set(specs) == {
        "p.raw", "p.late", "p.deadletter",  # shared by every generation
        "p.agent-events.by-entity.g3", "p.task-events.by-entity.g3",
        "p.agent-events.ordered.g3", "p.task-events.ordered.g3",
        "p.projection.agent-state.g3", "p.projection.task-lifecycle.g3",
        "p.wxcc-stream.g3-agent-entities-changelog",
    }  # fmt: skip
    assert {s.partitions for s in specs.values()} == {6}
