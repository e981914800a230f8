"""Property test: random methods, paths, bodies (NUL characters, wrong types, nesting), query
parameters and tokens thrown at /auth/v1 never produce a 5xx, and every refusal is in GoTrue's shape.
A short run for CI; `python benchmarks/fuzz.py --minutes 10` runs the same cases for as long as asked."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import HealthCheck, given, settings

from tests.localbase.auth.conftest import PASSWORD, admin, new_email
from tests.localbase.fuzzing import Target, auth_cases, bad_tokens, check_auth


@pytest.fixture(scope="module")
def target(auth_server):
    email = new_email("fuzz")
    admin(auth_server).auth.admin.create_user({"email": email, "password": PASSWORD, "email_confirm": True})
    signed_in = httpx.post(f"{auth_server.url}/auth/v1/token", params={"grant_type": "password"},
                           headers={"apikey": auth_server.anon_key}, json={"email": email, "password": PASSWORD})
    return Target(auth_server.url, auth_server.anon_key,
                  {"user": signed_in.json()["access_token"], "service": auth_server.service_role_key,
                   **bad_tokens(auth_server.jwt_secret)})


@pytest.fixture(scope="module")
def raw_http():
    with httpx.Client(timeout=30) as client:
        yield client


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=auth_cases())
def test_random_auth_requests_never_5xx(raw_http, target, case):
    answer = target.send(raw_http, "auth/v1", case)
    problem = check_auth(case, answer)
    assert problem is None, (case, problem)
