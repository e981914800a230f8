"""Property test: random methods, paths, bodies (NUL characters, wrong types, nesting), query
parameters and tokens thrown at /auth/v1 never produce a 5xx, and every refusal is in GoTrue's shape.
A short run for CI; `python benchmarks/fuzz.py --minutes 10` runs the same cases for as long as asked."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from tests.localbase.auth.conftest import PASSWORD, admin, client, new_email
from tests.localbase.fuzzing import Target, auth_cases


@pytest.fixture(scope="module")
def target(auth_server):
    email = new_email("fuzz")
    admin(auth_server).auth.admin.create_user({"email": email, "password": PASSWORD, "email_confirm": True})
    session = client(auth_server).auth.sign_in_with_password({"email": email, "password": PASSWORD}).session
    with Target(auth_server, session.access_token, "auth") as target:
        yield target


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=auth_cases())
def test_random_auth_requests_never_5xx(target, case):
    assert target.problem(case) is None, case
