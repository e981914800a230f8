"""`localbase functions new NAME [--lang ts]`: the scaffolded function answers at once on a
running Localbase (Python by default; --lang ts writes a Supabase Edge Function for Deno)."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from localbase.cli.main import app
from tests.localbase.helpers import client_for


@pytest.mark.parametrize("lang, entry", [(None, "index.py"), ("ts", "index.ts")])
def test_functions_new_scaffolds_a_working_function(localbase_server, lang, entry):
    name = f"scaffolded-{entry.replace('.', '-')}"
    folder = localbase_server.project_dir / "supabase" / "functions" / name
    args = ["functions", "new", name, "--workdir", str(localbase_server.project_dir)]
    try:
        result = CliRunner().invoke(app, args + (["--lang", lang] if lang else []))
        assert result.exit_code == 0, result.output
        assert sorted(p.name for p in folder.iterdir()) == [entry]
        client = client_for(localbase_server)
        assert json.loads(client.functions.invoke(name, invoke_options={"body": {"name": "Ada"}})) == \
            {"message": "Hello Ada!"}
        assert json.loads(client.functions.invoke(name)) == {"message": "Hello world!"}
        again = CliRunner().invoke(app, args + ["--lang", "ts"])  # one function, one entry
        assert again.exit_code == 2 and "alreadyexists" in "".join(again.output.split())
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_functions_new_refuses_an_unknown_language(tmp_path):
    (tmp_path / "supabase").mkdir()  # a project (a folder without one is refused first)
    result = CliRunner().invoke(app, ["functions", "new", "x", "--workdir", str(tmp_path), "--lang", "go"])
    assert result.exit_code == 2 and "python or ts" in result.output
