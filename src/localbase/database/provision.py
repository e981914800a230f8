"""A new data folder's embedded cluster, made quickly and without giving up what a new one promises.

1. A cluster template for this Localbase is in the cache (template_cache.py): it is copied into
   <data>/pgdata.new, checked against its manifest, given a system identifier and mock-authentication
   nonce of its own and a new WAL (cluster_copy.py, pg_resetwal), and renamed to <data>/pgdata. No
   initdb, no bootstrap SQL.
2. There is none, and no other start is making one: initdb (with no password) and the bootstrap SQL
   on a short-lived private server (socket only), stopped; a copy goes to the cache, published
   (written to disk, renamed into place) by a thread while this start goes on. This first start
   costs a stop, a copy and a second start more than plain initdb; every later new project saves
   initdb and the bootstrap.
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

import asyncpg

from localbase.database import bootstrap, cluster_copy
from localbase.database.embedded import EmbeddedPostgres, EmbeddedPostgresError, bin_dir
from localbase.database.template_cache import TemplateCache, lock_file, template_key
from localbase.settings import Settings

log = logging.getLogger("localbase.database")
# on a template's schema supabase_migrations until the first Cluster.prepare of a copy: a new database
# (seeded on its first start), even when a command started it before without preparing it
NOT_STARTED = "Localbase: a new cluster, not prepared yet"
PUBLISH_WAIT = 60.0  # seconds stop() waits for a template being written to the cache


@dataclass
class NewCluster:
    how: str  # "template": copied; "made": made here and kept as the template; "initdb": plain
    bootstrapped: bool  # the bootstrap SQL is applied already
    publishing: threading.Thread | None = None
    # the template is written to disk once the start no longer needs the disk (Cluster.prepare is done)
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
            if _copy_template(pg, cache, key):
                log.info("new database cluster copied from the template %s (%.2f s)", cache.folder(key),
                         time.perf_counter() - started)
                return NewCluster("template", True)
            made = _make_template(pg, cache, key)
            if made is not None:
                return made
    except OSError as exc:  # the cache's locks or folders (read-only, full ...); initdb says if the data folder's
        log.warning("no cluster template (%s); a new cluster instead", exc)
    pg.init()
    return NewCluster("initdb", False)


def _copy_template(pg: EmbeddedPostgres, cache: TemplateCache, key: str) -> bool:
    staging = pg.data_dir / "pgdata.new"
    shutil.rmtree(staging, ignore_errors=True)  # left by a start that died copying
    with cache.locked(key, exclusive=False) as taken:
        template = cache.find(key) if taken else None
        if template is None:
            return False
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
        return False
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
    """initdb + bootstrap into <data>/pgdata on a private server, and a copy staged in the cache, while
    holding the template's lock (exclusive, not waited for: None when another start holds it)."""
    started = time.perf_counter()
    fd = lock_file(cache.root / f"{key}.lock", exclusive=True)
    if fd is None:
        log.info("another start is making the cluster template; a new cluster instead")
        return None
    try:
        if cache.find(key) is not None:  # published meanwhile: copy it
            os.close(fd)
            return None
        pg.init(with_password=False)
        try:
            pg.launch(private=True)
            pg.wait_ready()
            _in_thread(_bootstrap(pg.dsn()))
        finally:
            pg.stop()
        staging = cache.stage(key, pg.pgdata, _control_layout(pg))
    except BaseException as exc:
        os.close(fd)
        if not isinstance(exc, Exception):
            raise
        log.warning("could not make the cluster template (%s); a new cluster instead", exc)
        shutil.rmtree(pg.pgdata, ignore_errors=True)
        return None

    made = NewCluster("made", True)

    def publish() -> None:
        made.go.wait()
        try:
            cache.publish(key, staging)
        except OSError as exc:
            log.warning("could not keep the cluster template in %s: %s", cache.root, exc)
            shutil.rmtree(staging, ignore_errors=True)
        finally:
            os.close(fd)
        try:
            cache.prune(key)
        except OSError as exc:
            log.warning("could not remove old cluster templates from %s: %s", cache.root, exc)

    made.publishing = threading.Thread(target=publish, name="localbase-template", daemon=True)
    made.publishing.start()
    log.info("new database cluster made (initdb and bootstrap, %.2f s); keeping a copy as the template %s",
             time.perf_counter() - started, cache.folder(key))
    return made


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


def _in_thread(work) -> None:
    """asyncio.run(work) in a thread of its own: the caller may be inside an event loop."""
    error: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(work)
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
            error.append(exc)

    thread = threading.Thread(target=run, name="localbase-template-bootstrap")
    thread.start()
    thread.join()
    if error:
        raise error[0]
