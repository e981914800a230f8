"""Auth's error boundary: a database that is not there answers 503 (retryable for the clients),
a query that fails 500, both in GoTrue's shape."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from localbase.auth.context import endpoint


async def answer(exc: BaseException) -> tuple[int, dict]:
    async def fails(request):
        raise exc

    app = Starlette(routes=[Route("/token", endpoint(fails), methods=["POST"])])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://auth") as client:
        response = await client.post("/token")
    return response.status_code, response.json()


@pytest.mark.parametrize("exc", [ConnectionRefusedError(111, "refused"), TimeoutError(),
                                 asyncpg.CannotConnectNowError("the database system is starting up"),
                                 asyncpg.AdminShutdownError("terminating connection"),
                                 asyncpg.ConnectionDoesNotExistError("connection was closed")])
async def test_an_unreachable_database_is_503(exc):
    status, body = await answer(exc)
    assert status == 503 and body["code"] == 503 and body["error_code"] == "unexpected_failure"
    assert "retry" in body["msg"]


async def test_a_failing_query_is_500():
    status, body = await answer(asyncpg.UndefinedTableError("relation does not exist"))
    assert status == 500 and body == {"code": 500, "error_code": "unexpected_failure", "msg": "Database error"}
