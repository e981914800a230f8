"""A function's error never reaches the caller (issue 12, item 3): a Python or TypeScript function
that throws (or fails to start) with a secret in its message answers Supabase's generic words,
`500 {"code": "WORKER_ERROR", "message": "Function exited due to an error (please check logs)"}`
(503 BOOT_ERROR "Function failed to start (please check logs)"); the detail goes to the server
log only, with the password masked."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from supabase_functions.errors import FunctionsHttpError

from tests.localbase.helpers import client_for

WORKER_ERROR = {"code": "WORKER_ERROR", "message": "Function exited due to an error (please check logs)",
                "error": "Function exited due to an error (please check logs)"}
BOOT_ERROR = {"code": "BOOT_ERROR", "message": "Function failed to start (please check logs)",
              "error": "Function failed to start (please check logs)"}
FILES = {
    "leaky-py": ("index.py", "import os\n\ndef handler(request):\n"
                             "    raise RuntimeError('db url ' + os.environ['SUPABASE_DB_URL'])\n"),
    "leaky-py-boot": ("index.py", "import os\nraise RuntimeError('boot with ' + os.environ['SUPABASE_DB_URL'])\n"),
    "leaky-ts": ("index.ts", "Deno.serve(() => { throw new Error('db url ' + Deno.env.get('SUPABASE_DB_URL')) })\n"),
    "leaky-ts-boot": ("index.ts", "throw new Error('boot with ' + Deno.env.get('SUPABASE_DB_URL'))\n"),
}


@pytest.fixture(scope="module")
def leaky(localbase_server):
    root = Path(localbase_server.project_dir) / "supabase" / "functions"
    made = []
    for name, (entry, code) in FILES.items():
        folder = root / name
        folder.mkdir()
        (folder / entry).write_text(code)
        made.append(folder)
    yield localbase_server
    for folder in made:
        for f in folder.iterdir():
            f.unlink()
        folder.rmdir()


def _call(server, name: str) -> httpx.Response:
    return httpx.post(f"{server.url}/functions/v1/{name}", json={}, timeout=60,
                      headers={"apikey": server.anon_key, "Authorization": f"Bearer {server.anon_key}"})


def _secret(server) -> str:
    return server.db_password


@pytest.mark.parametrize("name", ["leaky-py", "leaky-ts"])
def test_a_thrown_error_is_not_in_the_answer(leaky, name):
    r = _call(leaky, name)
    assert r.status_code == 500 and r.json() == WORKER_ERROR, r.text
    assert _secret(leaky) not in r.text and "db url" not in r.text
    with pytest.raises(FunctionsHttpError) as err:  # what supabase-py's caller sees
        client_for(leaky).functions.invoke(name, invoke_options={"body": {}})
    assert err.value.status == 500 and err.value.message == WORKER_ERROR["message"]
    lines = _log_after(leaky, "db url postgresql://postgres:****@")
    assert _secret(leaky) not in lines  # the detail is logged, its password masked


@pytest.mark.parametrize("name", ["leaky-py-boot", "leaky-ts-boot"])
def test_a_start_up_error_is_not_in_the_answer(leaky, name):
    r = _call(leaky, name)
    assert r.status_code == 503 and r.json() == BOOT_ERROR, r.text
    assert _secret(leaky) not in r.text and "boot with" not in r.text
    lines = _log_after(leaky, "boot with postgresql://postgres:****@")
    assert _secret(leaky) not in lines


def _log_after(server, needle: str, timeout: float = 10.0) -> str:
    """The server log's lines about the error (the start-up banner shows the development URL)."""
    deadline = time.monotonic() + timeout
    marker = needle.split(" postgresql")[0]
    while True:
        lines = "\n".join(line for line in server.log_path.read_text(errors="replace").splitlines() if marker in line)
        if needle in lines or time.monotonic() > deadline:
            assert needle in lines, f"{needle!r} not in the server log"
            return lines
        time.sleep(0.1)


def test_functions_see_the_database_url_they_are_given(leaky):
    """SUPABASE_DB_URL carries the generated password (not postgres:postgres): the logged error names it."""
    assert _call(leaky, "leaky-py").status_code == 500
    assert f"db url postgresql://postgres:****@127.0.0.1:{leaky.db_port}/postgres" in _log_after(leaky, "db url")
