"""TypeScript Edge Functions (supabase/functions/<name>/index.ts, Deno.serve), run unchanged on
the session's Localbase: through supabase-py's functions.invoke (sync and async) and raw HTTP."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import httpx
import pytest
from supabase_functions.errors import FunctionsHttpError, FunctionsRelayError

from tests.localbase.helpers import client_for


def _invoke_raw(server, path: str, *, token: str | None = None, **kwargs) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token or server.anon_key}", **kwargs.pop("headers", {})}
    return httpx.request(kwargs.pop("method", "POST"), f"{server.url}/functions/v1/{path}", headers=headers,
                         timeout=30, **kwargs)


def test_raw_http_reaches_the_function_as_sent(localbase_server):
    r = _invoke_raw(localbase_server, "hello-ts/orders/7?sort=desc&probe=1", json={"name": "Ada"},
                    headers={"x-test-header": "sent"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json" and r.headers["x-function"] == "hello-ts"
    assert r.headers.get_list("access-control-allow-origin") == ["*"]  # the function's and the gateway's, once
    assert len(r.headers.get_list("date")) == 1
    data = r.json()
    assert data["message"] == "Hello Ada!"  # imported from ../_shared/ through deno.json's import map
    assert (data["method"], data["path"], data["query"]) == ("POST", "/hello-ts/orders/7",
                                                              {"sort": "desc", "probe": "1"})
    assert data["host"] == localbase_server.url.removeprefix("http://")  # req.url: the client's host
    assert data["header"] == "sent" and data["authorization"] == f"Bearer {localbase_server.anon_key}"
    assert data["body"] == {"name": "Ada"}
    assert data["env"] == {"SUPABASE_URL": localbase_server.url, "SUPABASE_ANON_KEY": True,
                           "SUPABASE_SERVICE_ROLE_KEY": True, "SUPABASE_DB_URL": True,
                           "TEST_FUNCTION_SECRET": "from the env file",  # supabase/functions/.env
                           "localbase": []}
    # network and environment, reading its own folder; nothing else
    assert data["permissions"] == {"read_own_folder": True, "read_elsewhere": False, "write_own_folder": False,
                                   "run": False, "ffi": False}
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        r = _invoke_raw(localbase_server, "hello-ts", method=method)
        assert r.status_code == 200 and r.json()["method"] == method and r.json()["body"] is None


def test_one_process_serves_every_request(localbase_server):
    """One Deno process per function and API process (with LOCALBASE_TEST_WORKERS=N, up to N)."""
    pids = {_invoke_raw(localbase_server, "hello-ts", json={}).json()["pid"] for _ in range(5)}
    assert len(pids) <= max(1, int(os.environ.get("LOCALBASE_TEST_WORKERS") or 1))


def test_supabase_py_invoke_sync(localbase_server):
    client = client_for(localbase_server)
    data = json.loads(client.functions.invoke("hello-ts", invoke_options={
        "body": {"name": "sync"}, "headers": {"x-test-header": "from supabase-py"}}))
    assert data["message"] == "Hello sync!" and data["header"] == "from supabase-py" and data["method"] == "POST"
    data = client.functions.invoke("hello-ts?mode=get", invoke_options={"method": "GET", "responseType": "json"})
    assert data["method"] == "GET" and data["query"] == {"mode": "get"}


async def test_supabase_py_invoke_async(async_supabase_anon):
    answer = await async_supabase_anon.functions.invoke("hello-ts", invoke_options={"body": {"name": "async"}})
    data = json.loads(answer)
    assert data["message"] == "Hello async!"
    with pytest.raises(FunctionsHttpError) as err:
        await async_supabase_anon.functions.invoke("ts-fail", invoke_options={"body": {}})
    assert err.value.status == 500 and err.value.message == "Function exited due to an error (please check logs)"


def test_a_throwing_handler_is_a_500_and_the_process_lives_on(localbase_server):
    client = client_for(localbase_server)
    for _ in range(2):
        with pytest.raises(FunctionsHttpError) as err:
            client.functions.invoke("ts-fail", invoke_options={"body": {}})
        assert err.value.status == 500 and err.value.message == "Function exited due to an error (please check logs)"
    r = _invoke_raw(localbase_server, "ts-fail", json={})
    assert r.status_code == 500 and r.json()["code"] == "WORKER_ERROR"
    assert "x-relay-error" not in r.headers  # the function's own failure, not the relay's
    log = localbase_server.log_path.read_text()
    assert "deliberate failure in TypeScript" in log and "ts-fail/index.ts:" in log  # the stack, in the log


def test_jwt_is_verified_before_the_process_is_reached(localbase_server):
    base = f"{localbase_server.url}/functions/v1"
    assert httpx.post(f"{base}/hello-ts", json={}).status_code == 401
    r = httpx.post(f"{base}/hello-ts", json={}, headers={"Authorization": "Bearer nonsense"})
    assert r.status_code == 401 and r.json()["code"] == "UNAUTHORIZED"


def test_fetch_with_the_callers_jwt_is_subject_to_rls(localbase_server, make_user):
    ada, ada_token = make_user()
    _, bob_token = make_user()
    client = client_for(localbase_server)
    client.functions.set_auth(ada_token)
    added = json.loads(client.functions.invoke("ts-rest", invoke_options={"body": {"body": "ada's note"}}))
    assert added == [{"body": "ada's note", "owner_id": ada}]
    assert json.loads(client.functions.invoke("ts-rest", invoke_options={"method": "GET"})) == added
    client.functions.set_auth(bob_token)
    assert json.loads(client.functions.invoke("ts-rest", invoke_options={"method": "GET"})) == []
    anon = client_for(localbase_server)
    assert json.loads(anon.functions.invoke("ts-rest", invoke_options={"method": "GET"})) == []
    with pytest.raises(FunctionsHttpError) as err:  # RLS refuses anon's insert; the function relays it
        anon.functions.invoke("ts-rest", invoke_options={"body": {"body": "anon's note"}})
    assert err.value.status in (401, 403)


def _touch(path: Path, text: str, bump: float) -> None:
    path.write_text(text)
    os.utime(path, (time.time() + bump, time.time() + bump))  # a newer mtime, whatever the clock's grain


def test_hot_reload_and_boot_errors(localbase_server):
    folder = localbase_server.project_dir / "supabase" / "functions" / "ts-hot-reload"
    folder.mkdir(exist_ok=True)
    client = client_for(localbase_server)
    serve = "Deno.serve(() => Response.json({{ version: {} }}));\n"
    try:
        _touch(folder / "index.ts", serve.format(1), 0)
        assert json.loads(client.functions.invoke("ts-hot-reload")) == {"version": 1}
        _touch(folder / "index.ts", serve.format(2), 1)
        assert json.loads(client.functions.invoke("ts-hot-reload")) == {"version": 2}
        _touch(folder / "helper.ts", "export const x = 1;\n", 2)  # any file of the folder restarts it
        assert json.loads(client.functions.invoke("ts-hot-reload")) == {"version": 2}

        _touch(folder / "index.ts", "Deno.serve(() => {{{ nope\n", 3)
        with pytest.raises(FunctionsRelayError) as err:
            client.functions.invoke("ts-hot-reload")
        assert err.value.status == 503
        r = _invoke_raw(localbase_server, "ts-hot-reload")
        assert r.status_code == 503 and r.headers["x-relay-error"] == "true"
        assert r.json() == {"code": "BOOT_ERROR", "message": "Function failed to start (please check logs)",
                            "error": "Function failed to start (please check logs)"}
        log = localbase_server.log_path.read_text()
        assert "function ts-hot-reload failed to start" in log and "ts-hot-reload/index.ts" in log

        _touch(folder / "index.ts", "throw new Error('top-level failure');\n", 4)
        assert _invoke_raw(localbase_server, "ts-hot-reload").status_code == 503
        assert "top-level failure" in localbase_server.log_path.read_text()
        _touch(folder / "index.ts", "export const nothing = 1;\n", 5)
        assert _invoke_raw(localbase_server, "ts-hot-reload").status_code == 503
        assert "never called Deno.serve" in localbase_server.log_path.read_text()

        _touch(folder / "index.ts", "export default { fetch: () => new Response('default export') };\n", 6)
        r = _invoke_raw(localbase_server, "ts-hot-reload")
        assert r.status_code == 200 and r.text == "default export"
    finally:
        for f in folder.iterdir():
            f.unlink()
        folder.rmdir()
    assert _invoke_raw(localbase_server, "ts-hot-reload").status_code == 404


def _npm_registry_reachable() -> bool:
    try:
        return httpx.head("https://registry.npmjs.org/@supabase%2fsupabase-js", timeout=3).status_code < 500
    except httpx.HTTPError:
        return False


@pytest.mark.skipif(not _npm_registry_reachable(), reason="needs the npm registry (npm: imports)")
def test_supabase_js_from_npm_inside_a_function(localbase_server, make_user):
    """The pattern of Supabase's docs: createClient from npm: with the caller's Authorization."""
    folder = localbase_server.project_dir / "supabase" / "functions" / "ts-supabase-js"
    folder.mkdir(exist_ok=True)
    (folder / "index.ts").write_text(
        "import { createClient } from 'npm:@supabase/supabase-js@2';\n"
        "Deno.serve(async (req) => {\n"
        "  const supabase = createClient(Deno.env.get('SUPABASE_URL')!, Deno.env.get('SUPABASE_ANON_KEY')!,\n"
        "    { global: { headers: { Authorization: req.headers.get('Authorization')! } } });\n"
        "  const { data, error } = await supabase.rpc('whoami');\n"
        "  return Response.json({ data, error }, { status: error ? 500 : 200 });\n"
        "});\n")
    try:
        uid, token = make_user()
        client = client_for(localbase_server)
        client.functions.set_auth(token)
        data = json.loads(client.functions.invoke("ts-supabase-js"))
        assert data == {"data": {"role": "authenticated", "uid": uid, "current_user": "authenticated"},
                        "error": None}
    finally:
        for f in folder.iterdir():
            f.unlink()
        folder.rmdir()
