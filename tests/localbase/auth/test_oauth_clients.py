"""The OAuth 2.1 server's client admin API ([auth.oauth_server] enabled = true), through
supabase-py's `auth.admin.oauth` as its own suite drives it: create, list, get, update,
regenerate the secret, delete; GoTrue's validation; 404 while the server is off."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from supabase_auth.errors import AuthApiError
from supabase_auth.types import CreateOAuthClientParams, PageParams, UpdateOAuthClientParams

from localbase.testing.plugin import localbase_fixture
from supabase import ClientOptions, create_client

PROJECT = Path(__file__).parents[1] / "project"
oauth_server = localbase_fixture(PROJECT, scope="module", env={"LOCALBASE_AUTH_OAUTH_SERVER_ENABLED": "true"})


@pytest.fixture
def oauth(oauth_server):
    return create_client(oauth_server.url, oauth_server.service_role_key,
                         options=ClientOptions(auto_refresh_token=False, persist_session=False)).auth.admin.oauth


def params(name: str = "Test OAuth Client", **more) -> CreateOAuthClientParams:
    return CreateOAuthClientParams(client_name=name, redirect_uris=["https://example.com/callback"], **more)


def test_lifecycle(oauth):
    created = oauth.create_client(params(logo_uri="https://example.com/logo.png")).client
    assert created.client_name == "Test OAuth Client" and created.client_secret
    assert (created.client_type, created.token_endpoint_auth_method) == ("confidential", "client_secret_basic")
    assert created.grant_types == ["authorization_code", "refresh_token"] and created.response_types == ["code"]
    assert created.registration_type == "manual"

    got = oauth.get_client(created.client_id).client
    assert got.client_id == created.client_id and got.client_secret is None  # shown on creation only

    updated = oauth.update_client(created.client_id, UpdateOAuthClientParams(client_name="Renamed")).client
    assert (updated.client_name, updated.logo_uri) == ("Renamed", "https://example.com/logo.png")  # partial update

    regenerated = oauth.regenerate_client_secret(created.client_id).client
    assert regenerated.client_secret and regenerated.client_secret != created.client_secret

    listed = oauth.list_clients()
    assert created.client_id in [c.client_id for c in listed.clients]
    oauth.delete_client(created.client_id)
    with pytest.raises(AuthApiError) as info:
        oauth.get_client(created.client_id)
    assert (info.value.status, info.value.code) == (404, "oauth_client_not_found")
    assert created.client_id not in [c.client_id for c in oauth.list_clients().clients]


def test_pagination_and_multiple_redirect_uris(oauth):
    uris = ["https://example.com/callback", "http://localhost:3000/callback", "myapp://auth"]
    made = [oauth.create_client(CreateOAuthClientParams(client_name=f"page-{i}", redirect_uris=uris)).client
            for i in range(3)]
    assert made[0].redirect_uris == uris
    first = oauth.list_clients(PageParams(page=1, per_page=2))
    assert len(first.clients) == 2 and first.total >= 3 and first.next_page == 2
    assert first.clients[0].client_id == made[-1].client_id  # newest first


def test_public_clients_have_no_secret(oauth_server, oauth):
    r = httpx.post(f"{oauth_server.url}/auth/v1/admin/oauth/clients",
                   headers={"apikey": oauth_server.service_role_key,
                            "Authorization": f"Bearer {oauth_server.service_role_key}"},
                   json={"client_name": "SPA", "redirect_uris": ["https://spa.example.com/cb"],
                         "token_endpoint_auth_method": "none"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["client_type"] == "public" and "client_secret" not in body
    with pytest.raises(AuthApiError, match="Cannot regenerate secret for public client"):
        oauth.regenerate_client_secret(body["client_id"])


@pytest.mark.parametrize("uris, message", [
    ([], "redirect_uris cannot be empty"),
    (["http://example.com/cb"], "HTTP scheme only allowed for localhost"),
    (["javascript://x/alert(1)"], "is not allowed for security reasons"),
    (["https://example.com/cb#frag"], "fragment not allowed"),
    (["/relative"], "must have scheme and host"),
])
def test_redirect_uris_are_validated(oauth, uris, message):
    with pytest.raises(AuthApiError, match=message) as info:
        oauth.create_client(CreateOAuthClientParams(client_name="bad", redirect_uris=uris))
    assert (info.value.status, info.value.code) == (400, "validation_failed")


def test_unknown_and_malformed_client_ids(oauth_server, oauth):
    with pytest.raises(AuthApiError) as info:
        oauth.get_client(str(uuid.uuid4()))
    assert info.value.status == 404
    r = httpx.get(f"{oauth_server.url}/auth/v1/admin/oauth/clients/not-a-uuid",
                  headers={"apikey": oauth_server.service_role_key,
                           "Authorization": f"Bearer {oauth_server.service_role_key}"})
    assert (r.status_code, r.json()["msg"]) == (400, "invalid client_id format")


def test_only_admins(oauth_server):
    r = httpx.get(f"{oauth_server.url}/auth/v1/admin/oauth/clients",
                  headers={"apikey": oauth_server.anon_key, "Authorization": f"Bearer {oauth_server.anon_key}"})
    assert r.status_code == 403


def test_off_by_default(localbase_server):
    admin = create_client(localbase_server.url, localbase_server.service_role_key,
                          options=ClientOptions(auto_refresh_token=False, persist_session=False)).auth.admin
    with pytest.raises(AuthApiError, match="OAuth server is disabled") as info:
        admin.oauth.list_clients()
    assert (info.value.status, info.value.code) == (404, "feature_disabled")
