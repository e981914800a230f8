"""GeoJSON output (`Accept: application/geo+json`, supabase-js `.geojson()`) when PostGIS is installed on
the database: Localbase runs with `--db-url` on a throwaway cluster of the system's PostgreSQL with
PostGIS (Debian's postgresql + postgis packages, which .ci/run installs; skipped where absent)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from localbase.testing.postgres import PostgresServer
from localbase.testing.server import LocalbaseProcess
from tests.localbase import system_postgres

JS = Path(__file__).parents[2] / "js"
MIGRATION = """
create extension if not exists postgis with schema extensions;
create table shops (id int primary key, address text, shop_geom extensions.geometry(point, 4326));
insert into shops values (1, '1369 Cambridge St', 'SRID=4326;POINT(-71.10044 42.373695)'),
                         (2, 'Nowhere', null);
create function shops_near(lon float8) returns setof shops language sql stable as $$
  select * from shops where extensions.st_x(shop_geom) < lon
$$;
"""
FEATURE = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-71.10044, 42.373695]},
           "properties": {"id": 1, "address": "1369 Cambridge St"}}


@pytest.fixture(scope="module")
def postgis_server(tmp_path_factory):
    bindir, why = system_postgres.find("postgis")
    if bindir is None:
        pytest.skip(why)
    cluster = PostgresServer(bindir=bindir).start()
    project = tmp_path_factory.mktemp("postgis-project")
    (project / "supabase" / "migrations").mkdir(parents=True)
    (project / "supabase" / "migrations" / "20250101000000_shops.sql").write_text(MIGRATION)
    server = LocalbaseProcess(project, extra_args=["--db-url", cluster.url])
    try:
        server.start()
        yield server
    finally:
        server.cleanup()
        cluster.stop()


def _get(server, path: str, accept: str) -> httpx.Response:
    return httpx.get(f"{server.url}/rest/v1/{path}", headers={"apikey": server.anon_key, "Accept": accept})


def test_rows_as_a_feature_collection(postgis_server):
    r = _get(postgis_server, "shops?id=eq.1", "application/geo+json")
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json; charset=utf-8"
    assert r.json() == {"type": "FeatureCollection", "features": [FEATURE]}
    assert _get(postgis_server, "shops?id=eq.0", "application/geo+json").json() == \
        {"type": "FeatureCollection", "features": []}
    r = _get(postgis_server, "rpc/shops_near?lon=0", "application/geo+json")
    assert r.json() == {"type": "FeatureCollection", "features": [FEATURE]}


def test_without_postgis_geojson_is_refused(localbase_server):
    r = _get(localbase_server, "countries", "application/geo+json")
    assert r.status_code == 406 and r.json()["code"] == "PGRST107"


def test_supabase_js_geojson(postgis_server):
    node = shutil.which("node")
    if node is None or not (JS / "node_modules" / "@supabase" / "supabase-js").is_dir():
        pytest.skip("node or tests/js's dependencies (npm ci --prefix tests/js) are missing")
    pinned = JS / "node_modules" / ".bin" / "node"
    script = """
      import { createClient } from '@supabase/supabase-js'
      const db = createClient(process.env.SUPABASE_URL, process.env.SUPABASE_ANON_KEY)
      const { data, error } = await db.from('shops').select('id, address, shop_geom').eq('id', 1).geojson()
      console.log(JSON.stringify({ data, error }))
    """
    done = subprocess.run([str(pinned) if pinned.exists() else node, "--input-type=module", "-e", script],
                          cwd=JS, capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "SUPABASE_URL": postgis_server.url,
                               "SUPABASE_ANON_KEY": postgis_server.anon_key})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"data": {"type": "FeatureCollection", "features": [FEATURE]}, "error": None}
