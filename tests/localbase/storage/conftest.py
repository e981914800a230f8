"""Storage tests run against one real Localbase on tests/localbase/storage/project (buckets and
policies as Supabase's docs write them), through supabase-py's storage clients."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from localbase.testing.plugin import localbase_fixture
from supabase import AsyncClientOptions, ClientOptions, acreate_client, create_client

PROJECT = Path(__file__).parent / "project"
PASSWORD = "Str0ng-pass!"

storage_server = localbase_fixture(PROJECT)


@dataclass
class User:
    id: str
    email: str
    token: str


def _options(token: str | None = None) -> ClientOptions:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return ClientOptions(auto_refresh_token=False, persist_session=False, headers=headers)


def client_for(server, token: str | None = None, key: str | None = None):
    """A supabase-py client; with `token`, as a signed-in user whose session that is."""
    return create_client(server.url, key or server.anon_key, options=_options(token))


async def async_client_for(server, token: str | None = None, key: str | None = None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await acreate_client(server.url, key or server.anon_key, options=AsyncClientOptions(
        auto_refresh_token=False, persist_session=False, headers=headers))


@pytest.fixture(scope="session")
def signed_up(storage_server):
    """A new user signed up and signed in through supabase-py's auth: (User, its client)."""
    def make() -> tuple[User, object]:
        email = f"user-{uuid.uuid4().hex[:10]}@example.com"
        client = create_client(storage_server.url, storage_server.anon_key,
                               options=ClientOptions(auto_refresh_token=False, persist_session=False))
        client.auth.sign_up({"email": email, "password": PASSWORD})
        session = client.auth.sign_in_with_password({"email": email, "password": PASSWORD}).session
        return User(session.user.id, email, session.access_token), client
    return make


@pytest.fixture
def service(storage_server):
    return client_for(storage_server, key=storage_server.service_role_key)


@pytest.fixture
def anon(storage_server):
    return client_for(storage_server)


@pytest.fixture
def bucket(service):
    """A fresh private bucket (service role), emptied and removed after the test."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    service.storage.create_bucket(name)
    yield name
    service.storage.empty_bucket(name)
    service.storage.delete_bucket(name)
