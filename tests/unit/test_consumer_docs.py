"""docs/consumers.md: the Kafka Connect settings are valid JSON naming the right topics."""

from __future__ import annotations

import re

import orjson

from tests.unit.consumer_docs import block
from wxcc_stream.base.settings import TopicSettings


def test_the_jdbc_sink_connector_config_reads_both_projection_topics() -> None:
    config = orjson.loads(block("## Kafka Connect: the JDBC sink connector", "json"))["config"]
    topics = TopicSettings()
    assert config["topics"].split(",") == [topics.agent_state, topics.task_lifecycle]
    assert config["connector.class"] == "io.confluent.connect.jdbc.JdbcSinkConnector"
    assert (config["insert.mode"], config["pk.mode"]) == ("upsert", "record_key")
    # the router names one table per topic (RegexRouter: whole-name match, Java's $1)
    regex, replacement = config["transforms.route.regex"], config["transforms.route.replacement"]
    routed = set()
    for topic in config["topics"].split(","):
        match = re.fullmatch(regex, topic)
        assert match, topic
        routed.add(match.expand(replacement.replace("$", "\\")))
    assert routed == {"wxcc_agent_state", "wxcc_task_lifecycle"}
