"""[kafka] settings, in supabase/localbase.toml (the Supabase CLI has no such section):

    [kafka]
    bootstrap_servers = "127.0.0.1:9092"    # LOCALBASE_KAFKA_BOOTSTRAP_SERVERS; none: no bridge
    client_id = "localbase"
    security_protocol = "PLAINTEXT"         # SSL, SASL_PLAINTEXT or SASL_SSL
    sasl_mechanism = "PLAIN"                # or SCRAM-SHA-256, SCRAM-SHA-512
    sasl_username = "..."                   # LOCALBASE_KAFKA_SASL_USERNAME
    sasl_password = "..."                   # LOCALBASE_KAFKA_SASL_PASSWORD (better kept out of files)
    ssl_cafile = "ca.pem"                   # ssl_certfile, ssl_keyfile for client certificates
    topic_partitions = 3                    # topics the bridge creates when missing
    topic_replication_factor = 1
    lag_warning_bytes = 67108864            # `localbase doctor` warns above this replication lag

    [kafka.changes]                         # database -> Kafka
    slot_name = "localbase_kafka"
    publication = "supabase_realtime"
    [kafka.changes.tables]                  # "schema.table" first, then "schema.*", then "*"
    "public.orders" = { topic = "orders", key = ["customer_id"] }   # key: the primary key by default
    "public.*" = "db.{schema}.{table}"

    [[kafka.realtime]]                      # Kafka -> Realtime broadcast
    topic = "alerts"
    channel = "alerts"                      # joined by supabase-js as channel('alerts')
    event = "alerts"                        # the broadcast event [default: the topic]
    private = false                         # true: realtime.messages' RLS decides who may join

    [[kafka.functions]]                     # Kafka -> Functions
    topic = "orders"
    function = "process-order"
    max_attempts = 5                        # then the dead-letter topic
    backoff_seconds = 0.5                   # doubled after each failure, at most 30 s
    timeout_seconds = 30                    # a slower answer is a failure
    dead_letter_topic = "orders.dead-letter"
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from localbase.settings import Settings, SettingsError

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")


@dataclass(frozen=True)
class TopicRoute:
    """Where the changes of one table go."""

    topic: str  # may hold {schema} and {table}
    key: tuple[str, ...] = ()  # columns; () means the primary key

    def topic_for(self, schema: str, table: str) -> str:
        return self.topic.replace("{schema}", schema).replace("{table}", table)


@dataclass(frozen=True)
class RealtimeRoute:
    topic: str
    channel: str
    event: str
    private: bool = False
    group_id: str = "localbase-realtime"


@dataclass(frozen=True)
class FunctionRoute:
    topic: str
    function: str
    group_id: str
    dead_letter_topic: str
    max_attempts: int = 5
    backoff_seconds: float = 0.5
    timeout_seconds: float = 30.0


@dataclass(frozen=True)
class KafkaConfig:
    bootstrap_servers: str = ""
    client_id: str = "localbase"
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    topic_partitions: int = 3
    topic_replication_factor: int = 1
    lag_warning_bytes: int = 64 * 1024 * 1024
    slot_name: str = "localbase_kafka"
    publication: str = "supabase_realtime"
    tables: dict[str, TopicRoute] = field(default_factory=dict)
    realtime: tuple[RealtimeRoute, ...] = ()
    functions: tuple[FunctionRoute, ...] = ()

    @property
    def enabled(self) -> bool:
        return bool(self.bootstrap_servers)

    def route(self, schema: str, table: str) -> TopicRoute | None:
        """The table's route: "schema.table", else "schema.*", else "*"; None: not produced."""
        return self.tables.get(f"{schema}.{table}") or self.tables.get(f"{schema}.*") or self.tables.get("*")

    def client_options(self) -> dict[str, Any]:
        """aiokafka's connection options (producer, consumer and admin alike)."""
        options: dict[str, Any] = {"bootstrap_servers": self.bootstrap_servers, "client_id": self.client_id,
                                   "security_protocol": self.security_protocol}
        if self.security_protocol in ("SSL", "SASL_SSL"):
            from aiokafka.helpers import create_ssl_context
            options["ssl_context"] = create_ssl_context(cafile=self.ssl_cafile, certfile=self.ssl_certfile,
                                                        keyfile=self.ssl_keyfile)
        if self.security_protocol.startswith("SASL"):
            options.update(sasl_mechanism=self.sasl_mechanism or "PLAIN", sasl_plain_username=self.sasl_username,
                           sasl_plain_password=self.sasl_password)
        return options

    @classmethod
    def from_settings(cls, settings: Settings) -> KafkaConfig:
        section = settings.section("kafka")
        try:
            return _parse(section)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise SettingsError(f"[kafka] in localbase.toml: {exc}") from None


def _name(value: Any, what: str) -> str:
    text = str(value)
    if not _NAME.fullmatch(text.replace("{schema}", "s").replace("{table}", "t")):
        raise ValueError(f"{what} {text!r} is not a valid Kafka topic name")
    return text


def _parse(section: dict[str, Any]) -> KafkaConfig:
    env = os.environ
    protocol = str(section.get("security_protocol", "PLAINTEXT")).upper()
    if protocol not in PROTOCOLS:
        raise ValueError(f"security_protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    mechanism = section.get("sasl_mechanism")
    if mechanism is not None and str(mechanism).upper() not in MECHANISMS:
        raise ValueError(f"sasl_mechanism must be one of {', '.join(MECHANISMS)}, got {mechanism!r}")
    changes = section.get("changes", {})
    slot = str(changes.get("slot_name", "localbase_kafka"))
    if not re.fullmatch(r"[a-z0-9_]{1,63}", slot):
        raise ValueError("[kafka.changes] slot_name must be lower-case letters, digits and _")
    tables: dict[str, TopicRoute] = {}
    for pattern, target in changes.get("tables", {}).items():
        if not re.fullmatch(r"[^.]+\.[^.]+|\*", pattern):
            raise ValueError(f"[kafka.changes.tables] {pattern!r}: expected \"schema.table\", \"schema.*\" or \"*\"")
        spec = {"topic": target} if isinstance(target, str) else dict(target)
        tables[pattern] = TopicRoute(_name(spec["topic"], "topic"), tuple(str(c) for c in spec.get("key", ())))
    realtime = tuple(
        RealtimeRoute(topic=_name(r["topic"], "topic"), channel=str(r.get("channel", r["topic"])),
                      event=str(r.get("event", r["topic"])), private=bool(r.get("private", False)),
                      group_id=str(r.get("group_id", "localbase-realtime")))
        for r in section.get("realtime", []))
    functions = tuple(
        FunctionRoute(topic=_name(f["topic"], "topic"), function=str(f["function"]),
                      group_id=str(f.get("group_id", f"localbase-function-{f['function']}")),
                      dead_letter_topic=_name(f.get("dead_letter_topic", f"{f['topic']}.dead-letter"),
                                              "dead_letter_topic"),
                      max_attempts=max(1, int(f.get("max_attempts", 5))),
                      backoff_seconds=float(f.get("backoff_seconds", 0.5)),
                      timeout_seconds=float(f.get("timeout_seconds", 30)))
        for f in section.get("functions", []))
    return KafkaConfig(
        bootstrap_servers=env.get("LOCALBASE_KAFKA_BOOTSTRAP_SERVERS") or str(section.get("bootstrap_servers", "")),
        client_id=str(section.get("client_id", "localbase")),
        security_protocol=protocol,
        sasl_mechanism=str(mechanism).upper() if mechanism else None,
        sasl_username=env.get("LOCALBASE_KAFKA_SASL_USERNAME") or section.get("sasl_username"),
        sasl_password=env.get("LOCALBASE_KAFKA_SASL_PASSWORD") or section.get("sasl_password"),
        ssl_cafile=section.get("ssl_cafile"), ssl_certfile=section.get("ssl_certfile"),
        ssl_keyfile=section.get("ssl_keyfile"),
        topic_partitions=int(section.get("topic_partitions", 3)),
        topic_replication_factor=int(section.get("topic_replication_factor", 1)),
        lag_warning_bytes=int(section.get("lag_warning_bytes", 64 * 1024 * 1024)),
        slot_name=slot, publication=str(changes.get("publication", "supabase_realtime")),
        tables=tables, realtime=realtime, functions=functions)
