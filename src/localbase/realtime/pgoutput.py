"""Decode stage: pgoutput (protocol version 1) messages into committed transactions of row changes.

Each XLogData message of the replication stream is one pgoutput message. A transaction arrives
as Begin, Relation/Type messages as needed, row changes, then Commit; the decoder hands out a
`Transaction` only at Commit, so nothing of an uncommitted or rolled-back transaction is ever
seen (PostgreSQL's logical decoding does not even send those).

Row values arrive as text; the row images keep them as text (json/jsonb parsed), and PostgreSQL
turns them into typed JSON and evaluates policies on them (see authorize.py).
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

log = logging.getLogger("localbase.realtime")

PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
JSON_TYPES = {114, 3802}  # json, jsonb
DDL_MESSAGE = "localbase.realtime.ddl"  # the prefix realtime.announce_ddl() writes after any DDL

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_U32 = struct.Struct(">I")
_I64 = struct.Struct(">q")
_U64 = struct.Struct(">Q")


class DecodeError(Exception):
    """A message this decoder does not understand: the stream cannot be trusted past it."""


@dataclass
class Column:
    name: str
    type_oid: int
    is_key: bool


@dataclass
class Relation:
    relid: int
    schema: str
    table: str
    replica_identity: str  # d(efault), n(othing), f(ull), i(ndex)
    columns: list[Column]


@dataclass
class RowChange:
    relation: Relation
    kind: str  # INSERT / UPDATE / DELETE
    new: dict[str, Any] | None  # column -> text value (json parsed); None for DELETE
    old: dict[str, Any] | None  # full (replica identity full), key-only, or None
    seq: int = 0


@dataclass
class Transaction:
    xid: int
    commit_lsn: int  # LSN of the commit record: the transaction's place in commit order
    end_lsn: int  # LSN just past it: confirming this means "done with this transaction"
    commit_time: datetime
    changes: list[RowChange] = field(default_factory=list)


def _timestamp(micros: int) -> datetime:
    return PG_EPOCH + timedelta(microseconds=micros)


class _Reader:
    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes):
        self.buf = buf
        self.pos = 1  # after the message type byte

    def byte(self) -> str:
        b = self.buf[self.pos:self.pos + 1].decode()
        self.pos += 1
        return b

    def i16(self) -> int:
        (v,) = _I16.unpack_from(self.buf, self.pos)
        self.pos += 2
        return v

    def i32(self) -> int:
        (v,) = _I32.unpack_from(self.buf, self.pos)
        self.pos += 4
        return v

    def u32(self) -> int:
        (v,) = _U32.unpack_from(self.buf, self.pos)
        self.pos += 4
        return v

    def i64(self) -> int:
        (v,) = _I64.unpack_from(self.buf, self.pos)
        self.pos += 8
        return v

    def u64(self) -> int:
        (v,) = _U64.unpack_from(self.buf, self.pos)
        self.pos += 8
        return v

    def string(self) -> str:
        end = self.buf.index(b"\0", self.pos)
        s = self.buf[self.pos:end].decode()
        self.pos = end + 1
        return s

    def tuple(self, relation: Relation, previous: dict[str, Any] | None = None) -> tuple[dict[str, Any], set[str]]:
        """(values, names of unchanged TOAST columns). A column sent as 'u' (unchanged TOAST value,
        not in the WAL) takes its value from `previous` (the full old image) when there is one."""
        n = self.i16()
        values: dict[str, Any] = {}
        unchanged: set[str] = set()
        for i in range(n):
            col = relation.columns[i]
            kind = self.byte()
            if kind == "n":
                values[col.name] = None
            elif kind == "u":
                if previous is not None and col.name in previous:
                    values[col.name] = previous[col.name]
                else:
                    unchanged.add(col.name)
            elif kind == "t":
                length = self.i32()
                raw = self.buf[self.pos:self.pos + length]
                self.pos += length
                values[col.name] = orjson.loads(raw) if col.type_oid in JSON_TYPES else raw.decode()
            else:
                raise DecodeError(f"unknown tuple data kind {kind!r}")
        return values, unchanged


class Decoder:
    """Stateful: relations are announced once per session and then referred to by id."""

    def __init__(self) -> None:
        self.relations: dict[int, Relation] = {}
        self.current: Transaction | None = None
        # callback(relid) when a relation's shape is (re)announced
        self.on_relation: Callable[[int], None] | None = None
        # callback() when a transaction with DDL committed (realtime.announce_ddl)
        self.on_ddl: Callable[[], None] | None = None

    def feed(self, data: bytes) -> Transaction | None:
        """Decode one message; returns the transaction when this message was its Commit."""
        tag = data[:1]
        r = _Reader(data)
        if tag == b"B":
            final_lsn = r.u64()
            ts = r.i64()
            xid = r.u32()
            self.current = Transaction(xid=xid, commit_lsn=final_lsn, end_lsn=final_lsn,
                                       commit_time=_timestamp(ts))
        elif tag == b"C":
            r.byte()  # flags
            commit_lsn = r.u64()
            end_lsn = r.u64()
            ts = r.i64()
            txn, self.current = self.current, None
            if txn is None:
                raise DecodeError("commit without begin")
            txn.commit_lsn, txn.end_lsn, txn.commit_time = commit_lsn, end_lsn, _timestamp(ts)
            return txn
        elif tag == b"R":
            relid = r.u32()
            schema = r.string()
            table = r.string()
            ident = r.byte()
            columns = []
            for _ in range(r.i16()):
                flags = r.buf[r.pos]
                r.pos += 1
                name = r.string()
                type_oid = r.u32()
                r.i32()  # typmod
                columns.append(Column(name, type_oid, bool(flags & 1)))
            self.relations[relid] = Relation(relid, schema, table, ident, columns)
            if self.on_relation:
                self.on_relation(relid)
        elif tag == b"I":
            rel = self.relations[r.u32()]
            if r.byte() != "N":
                raise DecodeError("insert without new tuple")
            new, _ = r.tuple(rel)
            self._add(RowChange(rel, "INSERT", new, None))
        elif tag == b"U":
            rel = self.relations[r.u32()]
            kind = r.byte()
            old = None
            if kind in ("K", "O"):
                old_values, _ = r.tuple(rel)
                old = _key_only(rel, old_values) if kind == "K" else old_values
                kind = r.byte()
            if kind != "N":
                raise DecodeError("update without new tuple")
            new, unchanged = r.tuple(rel, old if old is not None and len(old) == len(rel.columns) else None)
            if unchanged:
                log.debug("update of %s.%s: unchanged TOAST columns %s not in the WAL (use replica identity full)",
                          rel.schema, rel.table, sorted(unchanged))
            self._add(RowChange(rel, "UPDATE", new, old))
        elif tag == b"D":
            rel = self.relations[r.u32()]
            kind = r.byte()
            old_values, _ = r.tuple(rel)
            self._add(RowChange(rel, "DELETE", None, _key_only(rel, old_values) if kind == "K" else old_values))
        elif tag == b"M":  # a logical message (pg_logical_emit_message): only DDL's is ours
            r.byte()  # flags (1: transactional)
            r.u64()  # its LSN
            if r.string() == DDL_MESSAGE and self.on_ddl:
                self.on_ddl()
        elif tag in (b"Y", b"O", b"T"):
            pass  # types, origins, truncates (not delivered, as on Supabase)
        else:
            raise DecodeError(f"unknown pgoutput message {tag!r}")
        return None

    def _add(self, change: RowChange) -> None:
        if self.current is None:
            raise DecodeError("row change outside a transaction")
        change.seq = len(self.current.changes)
        self.current.changes.append(change)


def _key_only(rel: Relation, values: dict[str, Any]) -> dict[str, Any]:
    return {c.name: values.get(c.name) for c in rel.columns if c.is_key}
