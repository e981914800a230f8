"""Pure stages of the bridge: [kafka] parsing (routes, security, errors) and message keys."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from localbase.bridge.config import KafkaConfig
from localbase.bridge.consumers import broadcast_payload
from localbase.bridge.producer import message_key
from localbase.settings import Settings, SettingsError


def config(section: dict) -> KafkaConfig:
    return KafkaConfig.from_settings(Settings(project_dir=Path("."), data_dir=Path("."), config={"kafka": section}))


def test_no_bootstrap_servers_means_no_bridge(monkeypatch):
    monkeypatch.delenv("LOCALBASE_KAFKA_BOOTSTRAP_SERVERS", raising=False)
    assert not config({}).enabled
    monkeypatch.setenv("LOCALBASE_KAFKA_BOOTSTRAP_SERVERS", "k1:9092,k2:9092")
    assert config({}).bootstrap_servers == "k1:9092,k2:9092"


def test_routes_table_then_schema_then_everything():
    c = config({"changes": {"tables": {"public.orders": {"topic": "orders", "key": ["customer_id"]},
                                       "public.*": "db.{schema}.{table}", "*": "all"}}})
    assert c.route("public", "orders").topic == "orders" and c.route("public", "orders").key == ("customer_id",)
    assert c.route("public", "items").topic_for("public", "items") == "db.public.items"
    assert c.route("public", "items").key == ()  # the primary key
    assert c.route("audit", "log").topic == "all"
    assert config({"changes": {"tables": {"public.orders": "o"}}}).route("public", "other") is None


@pytest.mark.parametrize("section, message", [
    ({"security_protocol": "TLS"}, "security_protocol"),
    ({"sasl_mechanism": "GSSAPI"}, "sasl_mechanism"),
    ({"changes": {"slot_name": "Bad-Slot"}}, "slot_name"),
    ({"changes": {"tables": {"orders": "o"}}}, "schema.table"),
    ({"changes": {"tables": {"public.orders": "no spaces allowed"}}}, "not a valid Kafka topic"),
    ({"functions": [{"topic": "jobs"}]}, "function"),
])
def test_mistakes_are_settings_errors_that_say_what(section, message):
    with pytest.raises(SettingsError, match=message):
        config(section)


def test_sasl_ssl_options(monkeypatch):
    monkeypatch.setenv("LOCALBASE_KAFKA_SASL_PASSWORD", "from-env")
    c = config({"bootstrap_servers": "k:9093", "security_protocol": "sasl_ssl", "sasl_mechanism": "scram-sha-512",
                "sasl_username": "svc"})
    options = c.client_options()
    assert options["security_protocol"] == "SASL_SSL" and options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "svc" and options["sasl_plain_password"] == "from-env"
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert "ssl_context" not in config({"bootstrap_servers": "k:9092"}).client_options()


def test_function_routes_default_their_group_and_dead_letter_topic():
    [route] = config({"functions": [{"topic": "jobs", "function": "work"}]}).functions
    assert route.group_id == "localbase-function-work" and route.dead_letter_topic == "jobs.dead-letter"
    assert route.max_attempts == 5 and route.timeout_seconds == 30


def test_message_keys():
    assert message_key(["id"], {"id": 42, "x": 1}) == b"42"
    assert message_key(["email"], {"email": "a@b.c"}) == b"a@b.c"
    assert message_key(["a", "b"], {"a": 1, "b": "x"}) == b'{"a":1,"b":"x"}'
    assert message_key(["id"], {"x": 1}) is None and message_key(["id"], {"id": None}) is None
    assert message_key([], {"id": 1}) is None


def test_broadcast_payloads():
    assert broadcast_payload(b'{"a": 1}') == {"a": 1}
    assert broadcast_payload(b"[1, 2]") == {"value": [1, 2]}
    assert broadcast_payload(b"plain") == {"value": "plain"}
    assert broadcast_payload(None) == {}
