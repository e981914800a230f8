"""Copying a stopped PostgreSQL cluster's files, and giving a copy a system identifier of its own.

The copy is lean: no write-ahead log (pg_resetwal writes a new one), no postmaster.pid/.opts, every
folder 0700 and every file 0600 (as initdb makes them), handed to `owner` (the service account when
Localbase runs as root). It refuses links and special files (a cluster made by Localbase has none),
and, given the sizes it should find (a template's manifest), any file missing, extra or of another
size: a template cut short or tampered with is not copied.

A cluster copied from a template would share two things initdb makes unique: the system identifier
(in pg_control and in every WAL page: physical replicas, pg_rewind and WAL archivers such as
pgBackRest or WAL-G tell clusters apart by it) and the mock-authentication nonce (the secret from
which SCRAM makes up a salt for a role that does not exist, so that a client cannot tell which roles
do). `new_identity` writes fresh ones into pg_control, and `pg_resetwal` then writes a new WAL under
the new identifier, as pg_createsubscriber does for the same reason.
"""

from __future__ import annotations

import os
import secrets
import stat
import struct
import sys
import time
from pathlib import Path

WITHOUT_CONTENT = frozenset({"pg_wal"})  # folders copied empty (their subfolders are kept)
SKIPPED = frozenset({"postmaster.pid", "postmaster.opts"})
CONTROL = Path("global") / "pg_control"
_BYTE_ORDER = "<" if sys.byteorder == "little" else ">"


class ClusterCopyError(RuntimeError):
    """The source is not a cluster this module copies as it is (the message says why)."""


def copy_cluster(src: Path, dst: Path, *, owner: tuple[int, int] | None = None,
                 expect: dict[str, int] | None = None) -> dict[str, int]:
    """Copy the cluster in `src` to the new folder `dst`; returns {relative path: size} of the files
    copied. With `expect`, the copy must match it exactly (else ClusterCopyError; `dst` is left for
    the caller to remove)."""
    copied: dict[str, int] = {}
    os.mkdir(dst, 0o700)
    _own(dst, owner)
    for root, dirs, files in os.walk(src, onerror=_raise):
        rel_root = os.path.relpath(root, src)
        out_root = dst if rel_root == "." else dst / rel_root
        for name in dirs:
            if os.path.islink(os.path.join(root, name)):
                raise ClusterCopyError(f"{os.path.join(root, name)} is a link (a tablespace?)")
            os.mkdir(out_root / name, 0o700)
            _own(out_root / name, owner)
        if rel_root in WITHOUT_CONTENT:
            continue
        for name in files:
            if rel_root == "." and name in SKIPPED:
                continue
            rel = name if rel_root == "." else f"{rel_root}/{name}"
            copied[rel] = _copy_file(os.path.join(root, name), out_root / name, owner)
            if expect is not None and expect.get(rel) != copied[rel]:
                raise ClusterCopyError(f"{rel}: {copied[rel]} bytes, the manifest says {expect.get(rel)}")
    if expect is not None and expect.keys() != copied.keys():
        missing = sorted(expect.keys() - copied.keys())[:3]
        raise ClusterCopyError(f"files missing from the template: {', '.join(missing) or '(none)'}"
                               f"{' ...' if len(expect) - len(copied) > 3 else ''}")
    return copied


def check_tree(folder: Path, expect: dict[str, int]) -> None:
    """The files in `folder` (a copy made before, not while WAL and pid files are absent) are exactly
    `expect`'s, of its sizes, regular files only; else ClusterCopyError."""
    found: dict[str, int] = {}
    for root, dirs, files in os.walk(folder, onerror=_raise):
        rel_root = os.path.relpath(root, folder)
        for name in dirs + files:
            info = os.lstat(os.path.join(root, name))
            rel = name if rel_root == "." else f"{rel_root}/{name}"
            if stat.S_ISREG(info.st_mode):
                found[rel] = info.st_size
            elif not stat.S_ISDIR(info.st_mode):
                raise ClusterCopyError(f"{rel} is not a regular file")
    if found != expect:
        wrong = sorted(set(found.items()) ^ set(expect.items()))[:3]
        raise ClusterCopyError(f"the copy differs from the manifest: {wrong}")


def _raise(exc: OSError) -> None:
    raise exc


def _own(path: Path, owner: tuple[int, int] | None) -> None:
    if owner is not None:
        os.chown(path, *owner)


def _copy_file(src: str, dst: Path, owner: tuple[int, int] | None) -> int:
    fd_in = os.open(src, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        info = os.fstat(fd_in)
        if not stat.S_ISREG(info.st_mode):
            raise ClusterCopyError(f"{src} is not a regular file")
        fd_out = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            if owner is not None:
                os.fchown(fd_out, *owner)
            _copy_bytes(fd_in, fd_out, info.st_size)
        finally:
            os.close(fd_out)
        return info.st_size
    finally:
        os.close(fd_in)


def _copy_bytes(fd_in: int, fd_out: int, size: int) -> None:
    """In the kernel (copy_file_range; sendfile where file systems differ), no bytes through Python."""
    done = 0
    while done < size:
        try:
            n = os.copy_file_range(fd_in, fd_out, size - done)
        except OSError:  # EXDEV, EINVAL, ENOSYS: across file systems on older kernels
            n = os.sendfile(fd_out, fd_in, done, size - done)
        if n == 0:
            raise ClusterCopyError(f"a file shrank while being copied ({done} of {size} bytes)")
        done += n


# -- pg_control ---------------------------------------------------------------------------------
def _crc32c_table() -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc32c_table()


def _crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def control_layout(pgdata: Path, nonce_hex: str) -> dict[str, int]:
    """Where pg_control keeps its CRC-32C (offsetof(ControlFileData, crc): the one 4-byte-aligned
    offset whose next bytes are the CRC of every byte before it) and the mock-authentication nonce
    (`nonce_hex`, as pg_controldata prints it: found once, before the CRC). Found, not assumed: a
    PostgreSQL with another layout is refused (ClusterCopyError) rather than written wrongly."""
    data = (pgdata / CONTROL).read_bytes()
    crcs, crc = [], 0xFFFFFFFF
    for i in range(min(len(data) - 4, 4096)):
        if i >= 16 and i % 4 == 0 and crc ^ 0xFFFFFFFF == struct.unpack_from(_BYTE_ORDER + "I", data, i)[0]:
            crcs.append(i)
        crc = _CRC_TABLE[(crc ^ data[i]) & 0xFF] ^ (crc >> 8)
    nonce = bytes.fromhex(nonce_hex)
    if len(crcs) != 1 or len(nonce) < 16 or data.count(nonce) != 1 or data.index(nonce) + len(nonce) > crcs[0]:
        raise ClusterCopyError("global/pg_control is not laid out as expected (its CRC or nonce not found once)")
    return {"crc": crcs[0], "nonce": data.index(nonce), "nonce_len": len(nonce)}


def system_identifier(pgdata: Path) -> int:
    """The cluster's system identifier (the first field of pg_control)."""
    return int(struct.unpack_from(_BYTE_ORDER + "Q", (pgdata / CONTROL).read_bytes(), 0)[0])


def mock_nonce(pgdata: Path, layout: dict[str, int]) -> bytes:
    data = (pgdata / CONTROL).read_bytes()
    return data[layout["nonce"]:layout["nonce"] + layout["nonce_len"]]


def new_identity(pgdata: Path, layout: dict[str, int], *, blank: bool = False) -> int:
    """Write a new system identifier and mock-authentication nonce (the secret behind SCRAM's made-up
    answers for roles that do not exist) into pg_control, with its CRC. The server must be stopped,
    and pg_resetwal run after (it writes the WAL under the new identifier). blank=True: a zero nonce
    (a template's: no secret in the cache; every copy gets a random one). Returns the identifier."""
    path = pgdata / CONTROL
    data = bytearray(path.read_bytes())
    crc_at = layout["crc"]
    if struct.unpack_from(_BYTE_ORDER + "I", data, crc_at)[0] != _crc32c(bytes(data[:crc_at])):
        raise ClusterCopyError(f"{path} is damaged (its CRC does not match)")
    now = time.time_ns() // 1000
    # as PostgreSQL makes one (BootStrapXLOG): seconds << 32 | microseconds << 12, and 12 random bits
    # (where PostgreSQL puts the process id's)
    sysid = (now // 1_000_000) << 32 | (now % 1_000_000) << 12 | secrets.randbits(12)
    struct.pack_into(_BYTE_ORDER + "Q", data, 0, sysid & 0xFFFFFFFFFFFFFFFF)
    size = layout["nonce_len"]
    data[layout["nonce"]:layout["nonce"] + size] = bytes(size) if blank else secrets.token_bytes(size)
    struct.pack_into(_BYTE_ORDER + "I", data, crc_at, _crc32c(bytes(data[:crc_at])))
    fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW)
    try:
        os.pwrite(fd, bytes(data), 0)
    finally:
        os.close(fd)
    return sysid
