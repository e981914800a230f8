"""JSON logs: one JSON object per line for server events and access logs, and no secret in any
of them (keys, JWTs, passwords, tokens in query strings, passwords in URLs)."""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

import httpx
import pytest

from localbase.logs import REDACTED, JsonFormatter, redact, redact_query, redact_text
from localbase.testing.server import LocalbaseProcess

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYW5vbiJ9.c2lnbmF0dXJl"


def test_redact_masks_secret_fields_at_any_depth():
    event = {"apikey": "k", "headers": {"Authorization": "Bearer x", "accept": "json"},
             "user": {"email": "a@b.c", "password": "hunter2"}, "items": [{"refresh_token": "r"}],
             "service_role_key": "s", "count": 3, "empty_secret": ""}
    assert redact(event) == {"apikey": REDACTED, "headers": {"Authorization": REDACTED, "accept": "json"},
                             "user": {"email": "a@b.c", "password": REDACTED},
                             "items": [{"refresh_token": REDACTED}], "service_role_key": REDACTED, "count": 3,
                             "empty_secret": ""}


def test_redact_text_masks_jwts_url_passwords_and_secret_parameters():
    text = (f"token {JWT} for postgresql://app:s3cret@db:5432/x, "
            f"GET /verify?token=abc&type=signup&apikey=k2 and password=pw1")
    out = redact_text(text)
    for secret in (JWT, "s3cret", "abc", "k2", "pw1"):
        assert secret not in out
    assert "postgresql://app:****@db:5432/x" in out and "type=signup" in out


def test_redact_text_masks_new_format_secret_keys():
    out = redact_text("called with sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz by sb_publishable_abc")
    assert "N7UND0Ug" not in out and REDACTED in out
    assert "sb_publishable_abc" in out  # the publishable key is public


def test_redact_query_keeps_other_parameters():
    assert redact_query("select=id,name&apikey=abc&id=eq.1") == f"select=id,name&apikey={REDACTED}&id=eq.1"
    assert redact_query("access_token=x&code=y") == f"access_token={REDACTED}&code={REDACTED}"
    assert redact_query("select=*") == "select=*"


def test_json_formatter_one_object_with_extras_and_traceback():
    logger = logging.getLogger("test.json")
    record = logger.makeRecord("test.json", logging.ERROR, __file__, 1, "failed for %s", ("x@y.z",), None,
                               extra={"status": 500, "authorization": f"Bearer {JWT}"})
    try:
        raise ValueError(f"bad {JWT}")
    except ValueError:
        import sys
        record.exc_info = sys.exc_info()
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "error" and entry["logger"] == "test.json" and entry["msg"] == "failed for x@y.z"
    assert entry["status"] == 500 and entry["authorization"] == REDACTED
    assert entry["ts"].endswith("Z") and "ValueError" in entry["exc"] and JWT not in line


@pytest.fixture(scope="module")
def json_server():
    with tempfile.TemporaryDirectory(prefix="lb-logs-") as folder:
        project = Path(folder)
        (project / "supabase" / "migrations").mkdir(parents=True)
        (project / "supabase" / "migrations" / "20250101000000_notes.sql").write_text(
            "create table notes (id serial primary key, body text);\n"
            "alter table notes enable row level security;\n"
            "create policy anyone on notes for all using (true) with check (true);\n"
            "grant all on notes to anon; grant usage on sequence notes_id_seq to anon;\n")
        server = LocalbaseProcess(project, env={"LOCALBASE_LOG_FORMAT": "json"})
        server.start()
        try:
            yield server
        finally:
            server.cleanup()


def test_json_logs_every_line_an_object_without_secrets(json_server):
    s = json_server
    headers = {"apikey": s.anon_key, "Authorization": f"Bearer {s.service_role_key}"}
    assert httpx.post(f"{s.url}/rest/v1/notes", json={"body": "hello"}, headers=headers).status_code == 201
    assert httpx.get(f"{s.url}/auth/v1/settings?apikey={s.anon_key}").status_code == 200
    httpx.post(f"{s.url}/auth/v1/signup", json={"email": "log@example.com", "password": "Sup3r-secret-pw"},
               headers={"apikey": s.anon_key})
    httpx.post(f"{s.url}/auth/v1/token?grant_type=password",
               json={"email": "log@example.com", "password": "Wr0ng-secret-pw"}, headers={"apikey": s.anon_key})
    httpx.get(f"{s.url}/auth/v1/verify?token=123456&type=signup&redirect_to=http://x.test")
    assert s.stop() == 0
    lines = s.log_path.read_text().splitlines()
    entries = [json.loads(line) for line in lines if line.strip()]  # every line is one JSON object
    assert entries
    for e in entries:
        assert {"ts", "level", "logger", "msg"} <= e.keys()
    events = [e.get("event") for e in entries]
    assert "started" in events and events[-1] == "stopped"
    started = next(e for e in entries if e.get("event") == "started")
    assert started["api_url"] == s.url and "****" in started["db_url"]
    access = [e for e in entries if e["logger"] == "localbase.access"]
    by_path = {(e["method"], e["path"]): e for e in access}
    post = by_path[("POST", "/rest/v1/notes")]
    assert post["status"] == 201 and post["service"] == "rest" and post["duration_ms"] > 0
    assert by_path[("GET", "/auth/v1/settings")]["query"] == f"apikey={REDACTED}"
    assert by_path[("GET", "/auth/v1/verify")]["query"].startswith(f"token={REDACTED}&type=signup")
    assert by_path[("POST", "/auth/v1/token")]["status"] == 400
    text = s.log_path.read_text()
    for secret in (s.anon_key, s.service_role_key, s.jwt_secret, "Sup3r-secret-pw", "Wr0ng-secret-pw", "123456"):
        assert secret not in text
