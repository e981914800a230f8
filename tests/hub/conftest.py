"""Hub tests: a real Localbase on this repository's own supabase/ folder (the hub's migrations,
config and optimizer function), driven only through the supabase client and the hub's API."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from efficiency_hub.accounts import Accounts
from efficiency_hub.admin import Admin
from efficiency_hub.clients import service_client, user_client
from efficiency_hub.models import Citizen, Clearance
from efficiency_hub.settings import HubSettings
from localbase.testing.plugin import localbase_fixture

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Str0ng-Passw0rd"

hub_server = localbase_fixture(ROOT)
_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def settings(hub_server) -> HubSettings:
    return HubSettings(hub_server.url, hub_server.anon_key, hub_server.service_role_key)


@pytest.fixture
async def service(settings):
    return await service_client(settings)


@pytest.fixture
async def admin(service) -> Admin:
    return Admin(service)


def new_citizen_id() -> str:
    # unique across test sessions sharing nothing but this process: a random block per session
    return f"EFF-2025-{_BLOCK + next(_numbers):06d}"


_BLOCK = uuid.uuid4().int % 900 * 1000


@dataclass
class Person:
    citizen: Citizen
    email: str
    token: str

    @property
    def citizen_id(self) -> str:
        return self.citizen.citizen_id


@pytest.fixture
def make_person(admin, settings):
    """Creates an account with a granted clearance and signs it in."""

    async def make(clearance: Clearance = Clearance.green, name: str = "Test Citizen") -> Person:
        citizen_id = new_citizen_id()
        email = f"{citizen_id.lower()}-{uuid.uuid4().hex[:6]}@example.com"
        citizen = await admin.create_citizen_account(email=email, password=PASSWORD, citizen_id=citizen_id,
                                                     name=name, clearance=clearance)
        session = await Accounts(settings).sign_in(email, PASSWORD)
        return Person(citizen, email, session.access_token)

    return make


@pytest.fixture
def as_user(settings):
    async def make(person: Person):
        return await user_client(settings, person.token)
    return make
