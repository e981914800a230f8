"""Rate limits answer 429 with GoTrue's codes (a server of its own with low limits set by
LOCALBASE_AUTH_RATE_LIMIT_* variables: 12 sign-ins/sign-ups per IP, 3 per email, 2 mails per
address)."""

from __future__ import annotations

import httpx
import pytest
from supabase_auth.errors import AuthApiError

from tests.localbase.auth.conftest import PASSWORD, client, new_email


def test_mails_per_address(limits_server):
    email = new_email("mails")
    c = client(limits_server)
    c.auth.sign_in_with_otp({"email": email})
    c.auth.sign_in_with_otp({"email": email})
    with pytest.raises(AuthApiError) as info:
        c.auth.sign_in_with_otp({"email": email})
    assert (info.value.status, info.value.code) == (429, "over_email_send_rate_limit")
    client(limits_server).auth.sign_in_with_otp({"email": new_email("other")})  # other addresses unaffected


def test_sign_in_attempts_per_email(limits_server):
    email = new_email("brute")
    c = client(limits_server)
    for _ in range(3):
        with pytest.raises(AuthApiError) as info:
            c.auth.sign_in_with_password({"email": email, "password": "guess-guess"})
        assert info.value.code == "invalid_credentials"
    with pytest.raises(AuthApiError) as info:
        c.auth.sign_in_with_password({"email": email, "password": "guess-guess"})
    assert (info.value.status, info.value.code) == (429, "over_request_rate_limit")


def test_sign_in_sign_ups_per_ip(limits_server):
    c = client(limits_server)
    codes = []
    for _ in range(13):
        try:
            c.auth.sign_up({"email": new_email("flood"), "password": PASSWORD})
            codes.append(200)
        except AuthApiError as exc:
            codes.append(exc.status)
            if exc.status == 429:
                assert exc.code == "over_request_rate_limit"
                break
    assert codes[-1] == 429 and set(codes[:-1]) == {200}
    raw = httpx.post(f"{limits_server.url}/auth/v1/token?grant_type=password",
                     headers={"apikey": limits_server.anon_key}, json={"email": new_email(), "password": PASSWORD})
    assert raw.status_code == 429 and int(raw.headers["retry-after"]) > 0
    assert raw.json()["error_code"] == "over_request_rate_limit"


# -- the counters themselves (auth.ratelimit), on the test server's PostgreSQL ---------------------
async def _limiters(server, n: int):
    """`n` limiters, each with a pool of its own: as `n` API workers (or restarts) would have."""
    import asyncpg

    from localbase.auth.ratelimit import RateLimiter
    pools = [await asyncpg.create_pool(server.db_url, min_size=1, max_size=2) for _ in range(n)]
    return pools, [RateLimiter(lambda p=p: p) for p in pools]


async def test_limiters_with_their_own_pools_share_one_count(limits_server):
    import uuid

    from localbase.auth.errors import AuthError
    pools, (a, b) = await _limiters(limits_server, 2)
    key = f"shared-{uuid.uuid4()}"
    try:
        for limiter in (a, b, a, b):  # 4 hits under a limit of 4, alternating processes
            await limiter.hit("test_bucket", key, 4, 60)
        with pytest.raises(AuthError) as info:
            await b.hit("test_bucket", key, 4, 60)
        assert info.value.status == 429 and info.value.error_code == "over_request_rate_limit"
        assert 1 <= int(info.value.headers["retry-after"]) <= 60
        await a.hit("test_bucket", f"{key}-other", 4, 60)  # other keys have their own window
        await a.hit("other_bucket", key, 4, 60)  # and other buckets
    finally:
        for pool in pools:
            await pool.close()


async def test_a_window_that_is_over_starts_again(limits_server):
    import asyncio
    import uuid

    from localbase.auth.errors import AuthError
    pools, (limiter,) = await _limiters(limits_server, 1)
    key = f"window-{uuid.uuid4()}"
    try:
        await limiter.hit("test_bucket", key, 1, 1)
        with pytest.raises(AuthError):
            await limiter.hit("test_bucket", key, 1, 1)
        await asyncio.sleep(1.1)
        await limiter.hit("test_bucket", key, 1, 1)  # a new window
        await limiter.hit("test_bucket", key, 0, 1)  # a limit of 0 checks nothing
        await limiter.hit("test_bucket", None, 1, 1)  # nor does a missing key
    finally:
        await pools[0].close()


async def test_old_windows_are_swept(limits_server):
    import datetime
    import uuid

    from localbase.auth import ratelimit
    pools, (limiter,) = await _limiters(limits_server, 1)
    old, recent = f"old-{uuid.uuid4()}", f"recent-{uuid.uuid4()}"
    now = datetime.datetime.now(datetime.UTC)
    try:
        async with pools[0].acquire() as conn:
            await conn.executemany(
                "insert into auth.rate_limit_windows (bucket, key, window_start, hits) "
                "values ('test_bucket', $1, $2, 3)",
                [(old, now - datetime.timedelta(hours=2)), (recent, now - datetime.timedelta(minutes=59))])
        limiter._last_sweep -= ratelimit.SWEEP_EVERY_SECONDS  # a minute went by
        await limiter.hit("test_bucket", f"sweeper-{uuid.uuid4()}", 5, 60)
        async with pools[0].acquire() as conn:
            left = {r["key"] for r in await conn.fetch(
                "select key from auth.rate_limit_windows where key = any($1::text[])", [old, recent])}
        assert left == {recent}
    finally:
        await pools[0].close()


async def test_a_database_that_is_not_there_answers_503_not_unchecked():
    """The counters' database refuses connections: the auth request fails as any auth query does
    (503, retryable), it is not let through."""
    import asyncpg
    from starlette.applications import Starlette
    from starlette.routing import Route

    from localbase.auth.context import endpoint, json
    from localbase.auth.ratelimit import RateLimiter
    from localbase.testing.server import free_port

    pool = await asyncpg.create_pool(f"postgresql://postgres@127.0.0.1:{free_port()}/postgres", min_size=0)
    limiter = RateLimiter(lambda: pool)

    @endpoint
    async def sign_in(request):
        await limiter.hit("sign_in_sign_ups", "203.0.113.9", 30, 300)
        return json({"signed_in": True})

    app = Starlette(routes=[Route("/token", sign_in, methods=["POST"])])
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://auth") as c:
            response = await c.post("/token")
    finally:
        await pool.close()
    assert response.status_code == 503 and response.json()["error_code"] == "unexpected_failure"
