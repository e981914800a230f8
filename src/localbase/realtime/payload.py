"""The JSON a committed row change is delivered as: the `data` of a postgres_changes message, and
the value of a Kafka message produced by the bridge (bridge/producer.py) - one shape for both."""

from __future__ import annotations

from typing import Any

from localbase.realtime.pgoutput import RowChange, Transaction


def commit_timestamp(txn: Transaction) -> str:
    return txn.commit_time.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def change_data(txn: Transaction, change: RowChange, columns: list[dict[str, str]],
                record: dict[str, Any] | None, old_record: dict[str, Any] | None) -> dict[str, Any]:
    """record and old_record: the row images as typed JSON (realtime.typed)."""
    rel = change.relation
    return {"schema": rel.schema, "table": rel.table, "commit_timestamp": commit_timestamp(txn),
            "type": change.kind, "columns": columns,
            "record": record if change.kind != "DELETE" else {}, "old_record": old_record or {}, "errors": None}
