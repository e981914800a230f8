"""Auth's rate limits hold once across nodes: the counters live in PostgreSQL
(auth.rate_limit_windows), not in a node. The project allows 4 sign-in attempts per email per
window; the proxy gives each request to the next node, so no node sees more than two of them."""

from __future__ import annotations

import uuid

import pytest
from supabase_auth.errors import AuthApiError

from supabase import ClientOptions, create_client


def test_sign_in_attempts_per_email_are_counted_once_across_nodes(nodes):
    c = create_client(nodes.url, nodes.anon_key, options=ClientOptions(auto_refresh_token=False,
                                                                       persist_session=False))
    email = f"brute-{uuid.uuid4().hex[:8]}@example.com"
    before = dict(nodes.proxy.requests)
    codes = []
    for _ in range(6):
        with pytest.raises(AuthApiError) as info:
            c.auth.sign_in_with_password({"email": email, "password": "guess-guess"})
        codes.append((info.value.status, info.value.code))
    assert codes == [(400, "invalid_credentials")] * 4 + [(429, "over_request_rate_limit")] * 2
    spread = {i: nodes.proxy.requests[i] - before.get(i, 0) for i in range(3)}
    assert sorted(spread.values()) == [2, 2, 2], spread  # every node answered some; none saw 5
