"""The execute stage on a real PostgreSQL: a statement the driver cannot send (a bug in an earlier
stage, as an empty PATCH once was) is a 500, never the 503 'Retrying the connection' that clients
retry; the connection stays in use."""

from __future__ import annotations

import pytest

from localbase.database.pool import Database
from localbase.rest import execute
from localbase.rest.errors import RestError
from localbase.rest.sql import Statement


async def test_a_statement_the_driver_refuses_is_a_500_not_a_retryable_503(localbase_server):
    db = Database(localbase_server.db_url, localbase_server.db_url, localbase_server.db_url, rest_pool_size=2)
    await db.open()
    try:
        caller = execute.caller_from(None, localbase_server.jwt_secret)
        ctx = execute.Context("PATCH", "/people", "{}")
        with pytest.raises(RestError) as info:  # one bind parameter in the SQL, none passed
            await execute.run(db, caller, ctx, Statement("select $1::int as page_total", []), read_only=True)
        assert (info.value.status, info.value.code) == (500, "PGRST000")
        row, _ = await execute.run(db, caller, ctx, Statement("select 1 as page_total", []), read_only=True)
        assert row["page_total"] == 1  # and the pool still serves
    finally:
        await db.close()
