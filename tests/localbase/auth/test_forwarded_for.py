"""X-Forwarded-For cannot move a client out of its auth rate limit (issue 12, item 7).

Before, uvicorn believed X-Forwarded-For from 127.0.0.1 (its default), so a local client that
sent a new address with every request had a new per-IP bucket every time. Now the header is
believed only from the proxies in `[api] trusted_proxies` (none by default), and then the client
is the right-most address that is not a trusted proxy (a client cannot prepend its way out).

Each server here: 5 sign-ups/sign-ins per IP per window; sign-ups without a password (422 after
the limiter counted them) keep the requests cheap."""

from __future__ import annotations

import uuid

import httpx
import pytest

from localbase.testing.plugin import localbase_fixture
from tests.localbase.auth.conftest import PROJECT

LIMIT = 5
LOW_LIMITS = {"LOCALBASE_AUTH_RATE_LIMIT_SIGN_IN_SIGN_UPS": str(LIMIT),
              "LOCALBASE_AUTH_RATE_LIMIT_SIGN_IN_SIGN_UPS_PER_EMAIL": "1000"}
direct_server = localbase_fixture(PROJECT, scope="module", env=LOW_LIMITS)
proxied_server = localbase_fixture(PROJECT, scope="module",
                                   env={**LOW_LIMITS, "LOCALBASE_TRUSTED_PROXIES": "127.0.0.1/32"})


def sign_up(server, forwarded_for: str | None = None) -> int:
    headers = {"apikey": server.anon_key}
    if forwarded_for is not None:
        headers["X-Forwarded-For"] = forwarded_for
    r = httpx.post(f"{server.url}/auth/v1/signup", headers=headers,
                   json={"email": f"xff-{uuid.uuid4().hex[:10]}@example.com"})
    assert r.status_code in (422, 429), r.text
    if r.status_code == 429:
        assert r.json()["error_code"] == "over_request_rate_limit"
    return r.status_code


def test_a_spoofed_forwarded_for_does_not_escape_the_limit(direct_server):
    codes = [sign_up(direct_server, f"198.51.100.{i}") for i in range(LIMIT + 3)]
    assert codes == [422] * LIMIT + [429] * 3  # one bucket: the socket's address


@pytest.mark.parametrize(("spoof", "first"), [("203.0.113.9", 1), ("10.0.0.{i}", 4), ("127.0.0.1", 7)])
def test_behind_a_trusted_proxy_each_client_counts_apart(proxied_server, spoof, first):
    """What nginx sends (`$proxy_add_x_forwarded_for`): whatever the client claimed, then its address."""
    clients = [f"192.0.2.{n}" for n in range(first, first + 3)]
    for client in clients:  # three clients, LIMIT each: 3x the limit in total, none refused
        assert [sign_up(proxied_server, f"{spoof.format(i=i)}, {client}") for i in range(LIMIT)] == [422] * LIMIT
    # the left-most value is the client's own claim: rotating it changes nothing
    assert sign_up(proxied_server, f"{spoof.format(i=99)}, {clients[0]}") == 429
    assert sign_up(proxied_server, f"198.51.100.77, {clients[1]}") == 429


def test_a_trusted_proxy_without_forwarded_for_is_one_client(proxied_server):
    codes = [sign_up(proxied_server) for _ in range(LIMIT + 1)]  # the proxy itself, or a local client
    assert codes == [422] * LIMIT + [429]
