"""/functions/v1 through supabase.functions.invoke: the caller's JWT reaches the function, errors
come back as FunctionsHttpError with the function's JSON, and files reload when they change."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from supabase_functions.errors import FunctionsHttpError

from tests.localbase.helpers import client_for


def test_invoke_acts_as_the_caller(localbase_server, make_user):
    uid, token = make_user()
    client = client_for(localbase_server)
    client.functions.set_auth(token)
    data = json.loads(client.functions.invoke("whoami", invoke_options={"body": {"x": 1}}))
    assert data == {"caller": {"role": "authenticated", "uid": uid, "current_user": "authenticated"},
                    "echo": {"x": 1}}
    anon = json.loads(client_for(localbase_server).functions.invoke("whoami", invoke_options={"body": {}}))
    assert anon["caller"]["role"] == "anon"


def test_function_errors_reach_the_client(localbase_server):
    client = client_for(localbase_server)
    with pytest.raises(FunctionsHttpError) as err:
        client.functions.invoke("whoami", invoke_options={"body": {"boom": True}})
    assert err.value.status == 400 and "boom" in err.value.message
    with pytest.raises(FunctionsHttpError) as err:
        client.functions.invoke("fail", invoke_options={"body": {}})
    # Supabase's generic words: the error itself only in the log (test_errors_do_not_leak.py)
    assert err.value.status == 500 and err.value.message == "Function exited due to an error (please check logs)"
    assert "deliberate failure" in localbase_server.log_path.read_text()
    with pytest.raises(FunctionsHttpError) as err:
        client.functions.invoke("no-such-function", invoke_options={"body": {}})
    assert err.value.status == 404


def test_jwt_is_verified_unless_the_function_opts_out(localbase_server):
    base = f"{localbase_server.url}/functions/v1"
    assert httpx.post(f"{base}/whoami", json={}).status_code == 401
    assert httpx.post(f"{base}/whoami", json={}, headers={"Authorization": "Bearer nonsense"}).status_code == 401
    r = httpx.get(f"{base}/public-ping")
    assert r.status_code == 200 and r.text == "pong"


def test_functions_reload_when_files_change(localbase_server):
    folder = localbase_server.project_dir / "supabase" / "functions" / "hot-reload"
    folder.mkdir(exist_ok=True)
    try:
        (folder / "index.py").write_text("def handler(request):\n    return {'version': 1}\n")
        client = client_for(localbase_server)
        assert json.loads(client.functions.invoke("hot-reload")) == {"version": 1}
        time.sleep(0.01)
        (folder / "index.py").write_text("def handler(request):\n    return {'version': 2}\n")
        import os
        os.utime(folder / "index.py", (time.time() + 1, time.time() + 1))
        assert json.loads(client.functions.invoke("hot-reload")) == {"version": 2}
        (folder / "index.py").write_text("def handler(request)\n    return 1\n")
        os.utime(folder / "index.py", (time.time() + 2, time.time() + 2))
        with pytest.raises(Exception) as err:
            client.functions.invoke("hot-reload")
        assert "Function failed to start (please check logs)" in str(err.value)
        assert "SyntaxError" in localbase_server.log_path.read_text()
    finally:
        for f in folder.iterdir():
            f.unlink()
        folder.rmdir()
