"""`localbase gen types`: supabase-js's Database type and Python TypedDicts, from the live schema."""

from __future__ import annotations

import subprocess
import sys


def _gen(server, lang: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "localbase", "gen", "types", "--lang", lang, "--workdir", str(server.project_dir),
         "--data-dir", str(server.data_dir)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_typescript_database_type(localbase_server):
    ts = _gen(localbase_server, "typescript")
    assert ts.startswith("export type Json =")
    countries = ts[ts.index('"countries": {'):ts.index('"countries": {') + 600]
    assert '"id": number' in countries and '"code": string | null' in countries
    assert '"id"?: number' in countries  # serial: optional on insert
    assert '"add_them": { Args: { "a": number; "b": number }; Returns: number }' in ts
    assert '"numbers": { Args: { "n": number }; Returns: number[] }' in ts
    assert 'foreignKeyName: "cities_country_id_fkey"' in ts
    assert "inventory: {" in ts and '"parts": {' in ts  # every exposed schema
    assert "hidden" not in ts


def test_python_typed_dicts_compile(localbase_server, tmp_path):
    code = _gen(localbase_server, "python")
    namespace: dict = {}
    exec(compile(code, "types.py", "exec"), namespace)
    import typing
    hints = typing.get_type_hints(namespace["CountriesRow"])
    assert hints["id"] is int and hints["code"] == (str | None)
    assert "sku" in namespace["ItemsInsert"].__annotations__
    assert "InventoryPartsRow" in namespace
