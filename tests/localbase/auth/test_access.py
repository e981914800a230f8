"""Access rules are declared with the routes (auth/routes.py, checked by auth/access.py): the route
table says who may call what and at what rate; handlers hold no admin checks or per-IP limits."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from localbase.auth import access, routes
from localbase.gateway import app

AUTH = Path(access.__file__).resolve().parent
TABLE = [(r.path, sorted(r.methods or ()), getattr(r.endpoint, "access", access.PUBLIC)) for r in routes.routes()]


@pytest.mark.parametrize(("path", "methods", "rule"), [t for t in TABLE if t[0].startswith(("/admin", "/invite"))])
def test_admin_routes_declare_the_admin_rule(path, methods, rule):
    assert rule.admin


@pytest.mark.parametrize(("path", "bucket"), [("/signup", "sign_in_sign_ups"), ("/signup", "anonymous_users"),
                                              ("/token", "sign_in_sign_ups"), ("/token", "token_refresh"),
                                              ("/otp", "otp_and_recovery"), ("/recover", "otp_and_recovery"),
                                              ("/verify", "token_verifications"),
                                              ("/factors/{factor_id}/verify", "token_verifications")])
def test_limited_routes_declare_their_bucket(path, bucket):
    assert any(bucket in [limit.bucket for limit in rule.limits] for p, _, rule in TABLE if p == path)


def test_handlers_hold_no_admin_check_nor_per_ip_limit():
    found = [f"{path.name}:{n}" for path in AUTH.glob("*.py") if path.name not in ("access.py", "routes.py")
             for n, line in enumerate(path.read_text().splitlines(), 1)
             if "require_admin(" in line or re.search(r"limiter\.hit\([^)]*client_ip", line)]
    assert found == []


def test_every_bucket_is_a_configured_limit():
    from localbase.auth.config import RateLimits
    fields = set(RateLimits.__dataclass_fields__)
    assert {limit.bucket for _, _, rule in TABLE for limit in rule.limits} <= fields


def test_the_gateway_takes_public_paths_from_the_services():
    assert "/auth/v1/verify" in app.public_paths() and "/auth/v1/token" not in app.public_paths()
    assert all(prefix + p in app.public_paths() for prefix, module in app.SERVICES.items()
               for p in module.PUBLIC_PATHS)
