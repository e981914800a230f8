"""The custom access token hook ([auth.hook.custom_access_token], a pg-functions:// URI), on a
project of its own (hook_project): Supabase's RBAC pattern, a claim from a table, used by RLS."""

from __future__ import annotations

from pathlib import Path

import jwt as pyjwt
import pytest
from supabase_auth.errors import AuthApiError

from localbase.testing.plugin import localbase_fixture
from tests.localbase.auth.conftest import PASSWORD, client, db, new_email

hook_server = localbase_fixture(Path(__file__).parent / "hook_project", scope="module")


def _claims(token: str) -> dict:
    return pyjwt.decode(token, options={"verify_signature": False})


def test_the_hook_adds_claims_that_rls_uses(hook_server):
    c = client(hook_server)
    email = new_email("admin")
    user = c.auth.sign_up({"email": email, "password": PASSWORD}).user
    first = c.auth.sign_in_with_password({"email": email, "password": PASSWORD}).session
    claims = _claims(first.access_token)
    assert claims["user_role"] is None and claims["auth_method"] == "password"
    assert c.table("audit_log").select("entry").execute().data == []

    db(hook_server, "insert into public.user_roles values ($1::uuid, 'admin')", user.id)
    refreshed = c.auth.refresh_session(first.refresh_token).session  # the hook runs on refresh too
    claims = _claims(refreshed.access_token)
    assert claims["user_role"] == "admin" and claims["auth_method"] == "token_refresh"
    pyjwt.decode(refreshed.access_token, hook_server.jwt_secret, algorithms=["HS256"], audience="authenticated")
    assert c.table("audit_log").select("entry").execute().data == [{"entry": "who did what"}]


def test_the_hook_can_refuse_a_sign_in(hook_server):
    with pytest.raises(AuthApiError) as info:
        client(hook_server).auth.sign_up({"email": new_email("x").replace("@example.com", "@banned.example"),
                                          "password": PASSWORD})
    assert info.value.status == 403 and "banned" in info.value.message


def test_a_refused_sign_in_leaves_no_session_behind(hook_server):
    """The hook runs inside the sign-in's transaction: its refusal rolls the new session back."""
    from tests.localbase.auth.conftest import admin
    email = new_email("x").replace("@example.com", "@banned.example")
    admin(hook_server).auth.admin.create_user({"email": email, "password": PASSWORD, "email_confirm": True})
    with pytest.raises(AuthApiError) as info:
        client(hook_server).auth.sign_in_with_password({"email": email, "password": PASSWORD})
    assert info.value.status == 403
    assert db(hook_server, "select count(*) from auth.sessions s join auth.users u on u.id = s.user_id "
                           "where u.email = $1", email, fetch="fetchval") == 0


def test_claims_missing_what_a_token_needs_are_refused(hook_server):
    db(hook_server, """create or replace function public.custom_access_token_hook(event jsonb) returns jsonb
                        language sql stable
                        as $$ select jsonb_build_object('claims', (event -> 'claims') - 'aal') $$""")
    try:
        with pytest.raises(AuthApiError) as info:
            client(hook_server).auth.sign_up({"email": new_email(), "password": PASSWORD})
        assert info.value.status == 500 and "do not conform" in info.value.message
    finally:
        db(hook_server, """create or replace function public.custom_access_token_hook(event jsonb) returns jsonb
                            language sql stable as $$ select jsonb_build_object('claims', event -> 'claims') $$""")


def test_an_http_hook_or_a_bad_uri_is_a_clear_configuration_error(tmp_path):
    from localbase.auth.config import load_auth_config
    from localbase.settings import SettingsError, load_settings
    (tmp_path / "supabase").mkdir()
    for uri in ("https://example.com/hook", "pg-functions://postgres/public/bad-name;drop"):
        (tmp_path / "supabase" / "config.toml").write_text(
            f'[auth.hook.custom_access_token]\nenabled = true\nuri = "{uri}"\n')
        with pytest.raises(SettingsError, match="pg-functions://"):
            load_auth_config(load_settings(tmp_path, with_keys=False))


HOOK = """create or replace function public.custom_access_token_hook(event jsonb) returns jsonb
          language plpgsql volatile as $$
          begin
            {body}
          end $$"""
ORIGINAL = Path(__file__).parent.joinpath("hook_project/supabase/migrations/20250101000000_rbac_hook.sql").read_text()


def _restore_hook(server) -> None:
    start = ORIGINAL.index("create function public.custom_access_token_hook")
    db(server, "create or replace " + ORIGINAL[start + len("create "):ORIGINAL.index("$$;", start) + 3])


def test_a_hook_refusing_a_refresh_leaves_the_token_unspent(hook_server):
    """The refresh's statement and the hook share a transaction: a refusal rolls the rotation back."""
    from localbase.auth import tokens
    c = client(hook_server)
    session = c.auth.sign_up({"email": new_email(), "password": PASSWORD}).session
    db(hook_server, HOOK.format(body="""if event ->> 'authentication_method' = 'token_refresh' then
              return jsonb_build_object('error', jsonb_build_object('http_code', 403, 'message', 'no refresh'));
            end if;
            return jsonb_build_object('claims', event -> 'claims');"""))
    try:
        with pytest.raises(AuthApiError) as info:
            client(hook_server).auth.refresh_session(session.refresh_token)
        assert info.value.status == 403 and info.value.message == "no refresh"
    finally:
        _restore_hook(hook_server)
    row = db(hook_server, "select revoked, (select count(*) from auth.refresh_tokens c where c.parent = t.token) "
                          "children from auth.refresh_tokens t where token = $1",
             tokens.digest(session.refresh_token), fetch="fetchrow")
    assert (row["revoked"], row["children"]) == (False, 0)
    assert client(hook_server).auth.refresh_session(session.refresh_token).session is not None


def test_session_state_a_hook_leaves_is_reset(hook_server):
    """Auth connections are not reset between requests, except one a hook ran on: a setting the hook
    makes for the session is gone when the next request's hook runs (whichever connection it gets)."""
    c = client(hook_server)
    session = c.auth.sign_up({"email": new_email(), "password": PASSWORD}).session
    db(hook_server, HOOK.format(body="""declare prior text := current_setting('localbase_test.hook_ran', true);
            begin
              perform set_config('localbase_test.hook_ran', 'yes', false);
              return jsonb_build_object('claims', (event -> 'claims') || jsonb_build_object('prior', prior));
            end;"""))
    try:
        token, priors = session.refresh_token, []
        for _ in range(6):
            refreshed = client(hook_server).auth.refresh_session(token).session
            token = refreshed.refresh_token
            priors.append(_claims(refreshed.access_token)["prior"])
    finally:
        _restore_hook(hook_server)
    assert all(not p for p in priors), priors
