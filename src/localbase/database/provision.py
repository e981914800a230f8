"""A new data folder's embedded cluster, made quickly and without giving up what a new one promises.

1. A cluster template for this Localbase is in the cache (template_cache.py): its spare copy (made
   in the background after an earlier start) is renamed into <data>/pgdata.new, or the template is
   copied there; checked against the template's manifest, given a system identifier and
   mock-authentication nonce of its own and a new WAL (cluster_copy.py, pg_resetwal), and renamed to
   <data>/pgdata. No initdb, no bootstrap SQL, and with a spare no files made. After the start has
   prepared its database, a thread makes the next spare.
2. There is none, and no other start is making one: this data folder gets plain initdb (as in 3),
   and once this start has prepared its database, a thread makes the template beside it, at a
   lower priority: initdb (with no password) and the bootstrap SQL in <data>/template.build on a
   short-lived private server (socket only), stopped, copied to the cache, written to disk and
   renamed into place. A stop waits for it. The first start costs what it did; every later new
   project saves initdb and the bootstrap.
3. Anything else (turned off by [db] cluster_template = false / LOCALBASE_CLUSTER_TEMPLATE=0, no
   cache folder, another start making the template, a template that fails a check, any error on
   the way): plain initdb, as before, and Cluster.prepare applies the bootstrap.

Either way the data folder's secrets are its own: the superuser's password is generated into
<data>/db_password (0600) and set by Cluster.prepare at every start (the template has none), and
the login roles have none (they are reached through the socket only).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from localbase.database import bootstrap, cluster_copy
from localbase.database.embedded import EmbeddedPostgres, EmbeddedPostgresError, bin_dir
from localbase.database.template_cache import Template, TemplateCache, lock_file, template_key
from localbase.settings import Settings

log = logging.getLogger("localbase.database")
# on a template's schema supabase_migrations until the first Cluster.prepare of a copy: a new database
# (seeded on its first start), even when a command started it before without preparing it
NOT_STARTED = "Localbase: a new cluster, not prepared yet"
PUBLISH_WAIT = 60.0  # seconds stop() waits for the template being made


@dataclass
class NewCluster:
    how: str  # "template": copied from the template; "initdb": plain (and maybe the template made after)
    bootstrapped: bool  # the bootstrap SQL is applied already
    publishing: threading.Thread | None = None
    # the template is made once this start is done with the disk and CPU (Cluster.prepare is done)
    go: threading.Event = field(default_factory=threading.Event)

    def publish(self) -> None:
        self.go.set()

    def wait_published(self, timeout: float = PUBLISH_WAIT) -> None:
        self.go.set()
        if self.publishing is not None:
            self.publishing.join(timeout)


def new_cluster(pg: EmbeddedPostgres, settings: Settings) -> NewCluster:
    """Make the cluster of a data folder that has none (see the module's docstring)."""
    if not settings.cluster_template or settings.cache_dir is None:
        pg.init()
        return NewCluster("initdb", False)
    pg.make_data_dir()
    try:
        cache = TemplateCache(settings.cache_dir)
        cache.ensure()
        key = template_key()
    except OSError as exc:
        log.warning("no cluster template (cache folder %s: %s); a new cluster instead", settings.cache_dir, exc)
        pg.init()
        return NewCluster("initdb", False)
    started = time.perf_counter()
    try:
        for _ in range(2):  # a template published between the two steps is copied on the second pass
            how = _take_spare(pg, cache, key) or _copy_template(pg, cache, key)
            if how:
                log.info("new database cluster %s the template %s (%.2f s)", how, cache.folder(key),
                         time.perf_counter() - started)
                new = NewCluster("template", True)
                new.publishing = threading.Thread(target=_make_spare, args=(pg, cache, key, new.go),
                                                  name="localbase-template-spare", daemon=True)
                new.publishing.start()
                return new
            made = _make_template(pg, cache, key)
            if made is not None:
                return made
    except OSError as exc:  # the cache's locks or folders (read-only, full ...); initdb says if the data folder's
        log.warning("no cluster template (%s); a new cluster instead", exc)
    pg.init()
    return NewCluster("initdb", False)


def _take_spare(pg: EmbeddedPostgres, cache: TemplateCache, key: str) -> str:
    """The spare copy of the template renamed into <data>/pgdata.new (no file made), checked against
    the template's manifest, then given its own identity: "taken (spare copy) from", or ""."""
    staging = _staging(pg)
    template = _published(cache, key)
    if template is None:
        return ""
    pg.mark_unsynced()
    if not cache.take_spare(key, staging):
        return ""
    try:
        owner = pg.owner or (os.geteuid(), os.getegid())
        if (os.stat(staging).st_uid, os.stat(staging).st_gid) != owner:
            raise cluster_copy.ClusterCopyError("the spare copy belongs to another account")
        cluster_copy.check_tree(staging, template.files)
    except (OSError, cluster_copy.ClusterCopyError) as exc:
        log.warning("the spare copy of the cluster template is unusable (%s); copying the template", exc)
        shutil.rmtree(staging, ignore_errors=True)
        return ""
    return "taken (a spare copy) from" if _own_identity(pg, cache, template, staging) else ""


def _make_spare(pg: EmbeddedPostgres, cache: TemplateCache, key: str, go: threading.Event) -> None:
    """After this start has prepared its database: a spare copy for the next new data folder, at a
    lower priority."""
    go.wait()
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        template = _published(cache, key)
        if template is not None:
            cache.make_spare(template, pg.owner)
    except (OSError, cluster_copy.ClusterCopyError) as exc:
        log.warning("could not make a spare copy of the cluster template in %s: %s", cache.root, exc)
        if isinstance(exc, cluster_copy.ClusterCopyError):
            cache.discard(key)  # the template no longer matches its manifest


def _staging(pg: EmbeddedPostgres) -> Path:
    staging = pg.data_dir / "pgdata.new"
    shutil.rmtree(staging, ignore_errors=True)  # left by a start that died copying
    return staging


def _published(cache: TemplateCache, key: str) -> Template | None:
    with cache.locked(key, exclusive=False) as taken:
        return cache.find(key) if taken else None


def _copy_template(pg: EmbeddedPostgres, cache: TemplateCache, key: str) -> str:
    staging = _staging(pg)
    with cache.locked(key, exclusive=False) as taken:
        template = cache.find(key) if taken else None
        if template is None:
            return ""
        try:
            pg.mark_unsynced()
            cluster_copy.copy_cluster(template.pgdata, staging, owner=pg.owner, expect=template.files)
        except (OSError, cluster_copy.ClusterCopyError) as exc:
            shutil.rmtree(staging, ignore_errors=True)
            source = isinstance(exc, cluster_copy.ClusterCopyError) or \
                str(getattr(exc, "filename", "") or "").startswith(str(template.pgdata))
            if not source:
                raise  # the data folder's side (full, read-only): initdb would fail the same way
            log.warning("the cluster template %s is unusable (%s); a new cluster instead", template.pgdata, exc)
            bad = True
        else:
            bad = False
    if bad:
        cache.discard(key)
        return ""
    return "copied from" if _own_identity(pg, cache, template, staging) else ""


def _own_identity(pg: EmbeddedPostgres, cache: TemplateCache, template: Template, staging: Path) -> bool:
    """A system identifier, nonce and WAL of its own for the copy in `staging`, then renamed to
    <data>/pgdata; False (the copy removed, the template too) when that fails."""
    key = template.key
    try:
        sysid = cluster_copy.new_identity(staging, template.control)
        nonce = cluster_copy.mock_nonce(staging, template.control)
        pg.run_tool(["pg_resetwal", "-D", str(staging)], "pg_resetwal")
        if cluster_copy.system_identifier(staging) != sysid or cluster_copy.mock_nonce(staging, template.control) \
                != nonce:
            raise cluster_copy.ClusterCopyError("pg_resetwal did not keep the new identity")
    except (OSError, EmbeddedPostgresError, cluster_copy.ClusterCopyError) as exc:
        log.warning("a copy of the cluster template %s could not be given its own identity (%s); "
                    "a new cluster instead", cache.folder(key), exc)
        shutil.rmtree(staging, ignore_errors=True)
        cache.discard(key)
        return False
    os.rename(staging, pg.pgdata)
    return True


def _make_template(pg: EmbeddedPostgres, cache: TemplateCache, key: str) -> NewCluster | None:
    """This data folder's cluster by plain initdb, and the template made in the background once this
    start has prepared its database (_build_template), holding the template's lock (exclusive, not
    waited for: None when another start holds it, or the template was published meanwhile)."""
    fd = lock_file(cache.root / f"{key}.lock", exclusive=True)
    if fd is None:
        log.info("another start is making the cluster template; a new cluster instead")
        return None
    try:
        if cache.find(key) is not None:  # published meanwhile: copy it
            os.close(fd)
            return None
        pg.init()
    except BaseException:
        os.close(fd)
        raise
    new = NewCluster("initdb", False)
    new.publishing = threading.Thread(target=_build_template, args=(pg, cache, key, fd, new.go),
                                      name="localbase-template", daemon=True)
    new.publishing.start()
    return new


def _build_template(pg: EmbeddedPostgres, cache: TemplateCache, key: str, fd: int, go: threading.Event) -> None:
    """initdb and the bootstrap SQL in <data>/template.build on a private server (socket only), stopped,
    copied into the cache and published; at a lower priority (its programs inherit it), after this
    start has prepared its own database. Any failure leaves no template (a later start tries again)."""
    build = EmbeddedPostgres(pg.data_dir / "template.build", pg.port)
    try:
        go.wait()
        started = time.perf_counter()
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        shutil.rmtree(build.data_dir, ignore_errors=True)
        build.init(with_password=False)
        try:
            build.launch(private=True)
            build.wait_ready()
            asyncio.run(_bootstrap(build.dsn()))
        finally:
            build.stop()
        staging = cache.stage(key, build.pgdata, _control_layout(build))
        try:
            cache.publish(key, staging)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        log.info("made the cluster template %s in the background (%.2f s)", cache.folder(key),
                 time.perf_counter() - started)
    except Exception as exc:  # noqa: BLE001 - a start goes on without a template
        log.warning("could not make the cluster template in %s: %s", cache.root, exc)
    finally:
        os.close(fd)
        shutil.rmtree(build.data_dir, ignore_errors=True)
    _make_spare(pg, cache, key, go)  # for the next new data folder (the template's lock released first)
    try:
        cache.prune(key)
    except OSError as exc:
        log.warning("could not remove old cluster templates from %s: %s", cache.root, exc)


def _control_layout(pg: EmbeddedPostgres) -> dict[str, int]:
    """Where this PostgreSQL's pg_control keeps its CRC and nonce (the nonce as pg_controldata shows it)."""
    out = subprocess.run([str(bin_dir() / "pg_controldata"), "-D", str(pg.pgdata)], capture_output=True,
                         text=True, check=True, env={**os.environ, "LC_ALL": "C"}).stdout
    nonce = next((line.split(":", 1)[1].strip() for line in out.splitlines()
                  if line.startswith("Mock authentication nonce:")), "")
    return cluster_copy.control_layout(pg.pgdata, nonce)


async def _bootstrap(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await bootstrap.apply_bootstrap(conn)
        await conn.execute(f"comment on schema supabase_migrations is '{NOT_STARTED}'")
        if await conn.fetchval("select count(*) from pg_replication_slots"):
            raise RuntimeError("the template has a replication slot")
    finally:
        await conn.close()
