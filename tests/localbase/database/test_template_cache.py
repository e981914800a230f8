"""A new project's cluster copied from the cluster template keeps every promise of a new cluster:
it serves, its superuser password and password verifier are its own (the cache holds no secret), its
system identifier is its own, the cache is private to the user; a corrupt, missing or stale
template is never used (plain initdb or a new template instead), concurrent first starts are safe,
and the template can be turned off. Real servers on real PostgreSQL, each test with a cache of its
own (LOCALBASE_CACHE_DIR)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from localbase.config_values import SettingsError
from localbase.database import bootstrap, cluster_copy, template_cache
from localbase.database.embedded import bin_dir
from localbase.settings import load_settings
from localbase.testing.server import LocalbaseProcess
from tests.localbase.helpers import client_for, sql, temp_project

COPIED = "from the template"  # copied from it, or taken (a spare copy made after a start) from it
SPARE = "taken (a spare copy) from the template"
MADE = "made the cluster template"


@pytest.fixture
def root() -> Iterator[Path]:
    with temp_project("lb-template-") as root:
        yield root


def server(root: Path, name: str, **env: str) -> LocalbaseProcess:
    # json logs: info level, so the server says how it made its cluster
    return LocalbaseProcess(root, root / name, env={"LOCALBASE_CACHE_DIR": str(root / "cache"),
                                                    "LOCALBASE_LOG_FORMAT": "json", **env})


def templates(root: Path) -> list[Path]:
    folder = root / "cache" / "clusters"
    return sorted(p for p in folder.iterdir() if p.is_dir() and "." not in p.name) if folder.exists() else []


def value(s: LocalbaseProcess, query: str):
    return sql(s, query)[0][0]


def serves(s: LocalbaseProcess) -> None:
    """REST answers, and through supabase-py a new user signs up and signs in (the auth schema the
    cluster came with, the project's own keys)."""
    r = httpx.get(f"{s.url}/rest/v1/", headers={"apikey": s.anon_key}, timeout=10)
    assert r.status_code == 200, r.text
    email, password = f"{uuid.uuid4()}@example.com", "password-123"
    signed_up = client_for(s).auth.sign_up({"email": email, "password": password})
    assert signed_up.user is not None and signed_up.user.email == email
    signed_in = client_for(s).auth.sign_in_with_password({"email": email, "password": password})
    assert signed_in.session is not None and signed_in.user.id == signed_up.user.id


VERIFIER = "select rolpassword from pg_authid where rolname = 'postgres'"
SYSID = "select system_identifier::text from pg_control_system()"


def test_a_new_project_is_a_copy_of_the_template_with_secrets_and_identity_of_its_own(root):
    seed = "create table public.seeded (n int); insert into public.seeded values (1);"
    (root / "supabase" / "seed.sql").write_text(seed)
    first, second = server(root, "first"), server(root, "second")
    try:
        first.start()
        serves(first)
        first_verifier, first_sysid = value(first, VERIFIER), value(first, SYSID)
        assert value(first, "select count(*) from public.seeded") == 1  # seeded, as a new database
        first.stop()  # the template (made in the background) is published by then
        assert MADE in first.output() and COPIED not in first.output()
        assert not (first.data_dir / "template.build").exists()
        second.start()
        assert COPIED in second.output()
        serves(second)
        second_verifier, second_sysid = value(second, VERIFIER), value(second, SYSID)
        assert value(second, bootstrap_current()) is True  # bootstrapped, by the template
        second.stop()
        second.start()
        assert value(second, "select count(*) from public.seeded") == 1  # seeded once
        assert value(second, "select count(*) from pg_replication_slots where slot_type = 'physical'") == 0
    finally:
        first.stop()
        second.stop()

    assert first.db_password != second.db_password
    assert first_verifier.startswith("SCRAM-SHA-256$") and second_verifier.startswith("SCRAM-SHA-256$")
    assert first_verifier != second_verifier
    [template] = templates(root)
    template_sysid = str(cluster_copy.system_identifier(template / "pgdata"))
    assert second_sysid not in (first_sysid, template_sysid) and first_sysid != template_sysid
    # the nonce behind SCRAM's answers for unknown roles: each project's own, none in the cache
    nonces = [control_data(folder)["Mock authentication nonce"]
              for folder in (first.data_dir / "pgdata", second.data_dir / "pgdata", template / "pgdata")]
    assert nonces[2] == "0" * 64 and len({*nonces}) == 3

    # no secret in the cache: no password verifier at all, neither project's password
    for path in (p for p in (root / "cache").rglob("*") if p.is_file()):
        data = path.read_bytes()
        assert b"SCRAM-SHA-256$" not in data, path
        assert first.db_password.encode() not in data and second.db_password.encode() not in data, path
    # private to the user: folders 0700, files 0600; each project's password file 0600, its cluster 0700
    # (a spare copy's files are handed to the account PostgreSQL runs as, which is another one as root;
    # the folders above it are the user's, 0700)
    for path in [root / "cache", *(root / "cache").rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))
        spare_file = ".spare" in str(path.relative_to(root / "cache" / "clusters")) if path != root / "cache" and \
            path != root / "cache" / "clusters" else False
        assert path.lstat().st_uid == os.geteuid() or spare_file, path
    for s in (first, second):
        assert stat.S_IMODE((s.data_dir / "db_password").stat().st_mode) == 0o600
        assert stat.S_IMODE((s.data_dir / "pgdata").stat().st_mode) == 0o700


def control_data(pgdata: Path) -> dict[str, str]:
    out = subprocess.run([str(bin_dir() / "pg_controldata"), "-D", str(pgdata)], capture_output=True, text=True,
                         check=True, env={**os.environ, "LC_ALL": "C"}).stdout
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines())}


def bootstrap_current() -> str:
    return (f"select obj_description('localbase'::regnamespace, 'pg_namespace') = "
            f"'{bootstrap.MARK}{bootstrap.digest()}'")


def make_template(root: Path) -> Path:
    s = server(root, "maker")
    s.start()
    s.stop()
    [template] = templates(root)
    return template


@pytest.mark.parametrize("damage", ["truncated", "missing", "control"])
def test_a_damaged_template_is_not_used_and_is_made_again(root, damage):
    template = make_template(root)
    shutil.rmtree(template.with_name(template.name + ".spare"))  # the template itself is copied
    files = json.loads((template / "manifest.json").read_text())["files"]
    biggest = max(files, key=lambda rel: files[rel])
    if damage == "truncated":
        os.truncate(template / "pgdata" / biggest, files[biggest] // 2)
    elif damage == "missing":
        (template / "pgdata" / biggest).unlink()
    else:  # sizes right, content wrong: pg_control's CRC no longer matches
        with open(template / "pgdata" / "global" / "pg_control", "r+b") as fh:
            fh.seek(100)
            fh.write(b"\xff" * 8)
    s = server(root, "after")
    try:
        s.start()
        serves(s)
        assert "is unusable" in s.output() or "could not be given its own identity" in s.output()
    finally:
        s.stop()
    assert MADE in s.output()  # the damaged template removed, a new one made by this start
    [again] = templates(root)
    manifest = json.loads((again / "manifest.json").read_text())["files"]
    assert all((again / "pgdata" / rel).stat().st_size == size for rel, size in manifest.items())
    assert not (s.data_dir / "pgdata.new").exists()


def test_a_missing_template_is_made_and_a_template_of_another_key_is_not_used(root):
    template = make_template(root)
    stale = template.with_name("0" * 32)  # as an older Localbase's (its key differs)
    template.rename(stale)
    manifest = json.loads((stale / "manifest.json").read_text())
    manifest["key"] = stale.name
    (stale / "manifest.json").write_text(json.dumps(manifest))
    s = server(root, "after")
    try:
        s.start()
        serves(s)
    finally:
        s.stop()
    assert MADE in s.output() and COPIED not in s.output()
    assert [t.name for t in templates(root)] == sorted([stale.name, template.name])
    # a folder of the right name whose manifest names another key is not used either
    manifest = json.loads((template / "manifest.json").read_text())
    manifest["key"] = "another"
    (template / "manifest.json").write_text(json.dumps(manifest))
    assert template_cache.TemplateCache(root / "cache").find(template.name) is None


def test_the_key_changes_with_the_bootstrap_sql(monkeypatch):
    key = template_cache.template_key()
    assert template_cache.template_key() == key
    scripts = bootstrap.bootstrap_scripts()
    changed = [*scripts[:-1], (scripts[-1][0], scripts[-1][1] + "\n")]  # one more newline in the last file
    monkeypatch.setattr(bootstrap, "bootstrap_scripts", lambda: changed)
    assert template_cache.template_key() != key


def test_concurrent_first_starts_are_safe(root):
    servers = [server(root, f"p{i}") for i in range(3)]
    errors: list[BaseException] = []

    def start(s: LocalbaseProcess) -> None:
        try:
            s.start()
        except BaseException as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(s,)) for s in servers]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        for s in servers:
            serves(s)
        sysids = {value(s, SYSID) for s in servers}
        assert len(sysids) == 3
    finally:
        for s in servers:
            s.stop()
    assert sum(MADE in s.output() for s in servers) == 1  # the others: plain initdb, no template
    [template] = templates(root)  # one, whole
    manifest = json.loads((template / "manifest.json").read_text())["files"]
    assert all((template / "pgdata" / rel).stat().st_size == size for rel, size in manifest.items())
    assert not list((root / "cache" / "clusters").glob(".*.tmp"))
    late = server(root, "late")
    try:
        late.start()
        assert COPIED in late.output()
        serves(late)
    finally:
        late.stop()


def test_the_template_can_be_turned_off(root):
    s = server(root, "plain", LOCALBASE_CLUSTER_TEMPLATE="0")
    try:
        s.start()
        serves(s)
        assert MADE not in s.output() and COPIED not in s.output()
    finally:
        s.stop()
    assert not (root / "cache").exists()


def test_the_setting_is_checked(monkeypatch):
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "supabase").mkdir()
        (Path(folder) / "supabase" / "localbase.toml").write_text("[db]\ncluster_template = false\n")
        assert load_settings(folder, with_keys=False).cluster_template is False
        monkeypatch.setenv("LOCALBASE_CLUSTER_TEMPLATE", "1")
        assert load_settings(folder, with_keys=False).cluster_template is True
        monkeypatch.setenv("LOCALBASE_CLUSTER_TEMPLATE", "sometimes")
        with pytest.raises(SettingsError, match="LOCALBASE_CLUSTER_TEMPLATE"):
            load_settings(folder, with_keys=False)
        monkeypatch.setenv("LOCALBASE_CACHE_DIR", folder)
        monkeypatch.delenv("LOCALBASE_CLUSTER_TEMPLATE")
        assert load_settings(folder, with_keys=False).cache_dir == Path(folder).resolve()


def test_a_cluster_started_before_its_first_prepare_is_still_new_then(root, monkeypatch):
    """A command may start a new data folder's cluster without preparing it (no migrations, no
    seed); the start after still finds a new database, and seeds it, once."""
    from localbase.database.cluster import Cluster
    from localbase.testing.server import free_port
    (root / "supabase" / "seed.sql").write_text("select 1;")
    monkeypatch.setenv("LOCALBASE_CACHE_DIR", str(root / "cache"))
    maker = Cluster(load_settings(root, data_dir=root / "maker", db_port=free_port()))
    maker.start()
    maker.stop()  # the template is made then (no prepare ran)
    settings = load_settings(root, data_dir=root / "data", db_port=free_port())
    cluster = Cluster(settings)
    cluster.start()
    assert cluster.new is not None and cluster.new.how == "template"
    cluster.stop()
    reports = []
    for _ in range(2):
        cluster = Cluster(settings)
        cluster.start()
        try:
            reports.append(asyncio.run(cluster.prepare()))
        finally:
            cluster.stop()
    assert [(r.fresh, r.seeded) for r in reports] == [(True, True), (False, False)]


def test_a_spare_copy_is_renamed_into_a_new_data_folder_and_a_damaged_one_is_not(root):
    template = make_template(root)
    spare = template.with_name(template.name + ".spare")
    assert (spare / "pgdata" / "PG_VERSION").exists()  # made after the template, for the next project
    files = json.loads((template / "manifest.json").read_text())["files"]
    first, second = server(root, "first"), server(root, "second")
    try:
        first.start()
        assert SPARE in first.output()
        serves(first)
        first_sysid = value(first, SYSID)
    finally:
        first.stop()  # a new spare is made after that start
    biggest = max(files, key=lambda rel: files[rel])
    os.truncate(spare / "pgdata" / biggest, 0)
    try:
        second.start()
        assert "spare copy of the cluster template is unusable" in second.output()
        assert "copied from the template" in second.output()
        serves(second)
        assert value(second, SYSID) != first_sysid
    finally:
        second.stop()
    assert stat.S_IMODE(spare.stat().st_mode) == 0o700
