"""realtime.visible_each (database/sql/30_realtime.sql), the SQL behind the authorize stage, held
to the ground truth: for every subscriber context, the rows it is told it may see are exactly the
rows a SELECT on the real table returns with that context's role and claims set, as PostgREST
sets them. Checked for many distinct contexts in one call, on policies without a sub-select (all
contexts checked in one statement) and with one (a sub-select would be computed once per
statement, so those take the per-context path), permissive and restrictive, by role.
"""

from __future__ import annotations

import random
import uuid

import orjson
import pytest

POLICIES = {
    "plain": ["owner_id = auth.uid()", "team = auth.jwt() ->> 'team'"],
    # Supabase's recommended form: (select auth.uid()) is an InitPlan, computed once per statement
    "sub_select": ["owner_id = (select auth.uid())", "team in (select auth.jwt() ->> 'team')"],
    # a helper that queries: called per row, never inlined (it has a sub-select)
    "helper": ["owner_id = auth.uid()", "team = public.visible_each_team()"],
}
RESTRICTIVE = "level <= coalesce((auth.jwt() ->> 'level')::int, 0) or auth.email() like '%@boss.example'"


@pytest.fixture
async def table(db):
    name = f"visible_{uuid.uuid4().hex[:8]}"
    await db.execute("create or replace function public.visible_each_team() returns text language sql stable "
                     "as $$ select (select auth.jwt() ->> 'team') $$")
    await db.execute(f"create table public.{name} (id int primary key, owner_id uuid, team text, level int)")
    await db.execute(f"alter table public.{name} enable row level security")
    await db.execute(f"grant select on public.{name} to anon, authenticated")
    yield name
    await db.execute(f"drop table public.{name}")


def contexts(users: list[str], rng: random.Random) -> list[dict]:
    out = []
    for k in range(90):
        uid = rng.choice(users)
        claims = {"sub": uid, "role": "authenticated", "aud": "authenticated"}
        if k % 3:
            claims["team"] = rng.choice(["red", "blue", "green"])
        if k % 4 == 0:
            claims["level"] = rng.randint(0, 5)
        if k % 5 == 0:
            claims["email"] = f"{uid[:6]}@{'boss' if k % 10 == 0 else 'staff'}.example"
        role = "anon" if k % 11 == 0 else "authenticated"
        if role == "anon":
            claims = {"role": "anon"}
        out.append({"role": role, "claims": claims})
    out.append(dict(out[1]))  # the same claims twice
    return out


async def ground_truth(db, name: str, ctx: dict) -> set[int]:
    async with db.transaction():
        await db.execute("select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)",
                         ctx["role"], orjson.dumps(ctx["claims"]).decode())
        ids = {r["id"] for r in await db.fetch(f"select id from public.{name}")}
        await db.execute("reset role")
    return ids


@pytest.mark.parametrize("kind", sorted(POLICIES))
async def test_each_context_sees_what_a_select_as_it_returns(db, table, kind):
    rng = random.Random(kind)
    for k, using in enumerate(POLICIES[kind]):
        await db.execute(f"create policy p{k} on public.{table} for select to authenticated using ({using})")
    await db.execute(f"create policy r on public.{table} as restrictive for select to authenticated "
                     f"using ({RESTRICTIVE})")
    users = [str(uuid.uuid4()) for _ in range(40)]
    rows = [{"id": i + 1, "owner_id": rng.choice(users), "team": rng.choice(["red", "blue", "green", None]),
             "level": rng.randint(0, 5)} for i in range(25)]
    await db.executemany(f"insert into public.{table} values ($1, $2, $3, $4)",
                         [(r["id"], r["owner_id"], r["team"], r["level"]) for r in rows])
    ctxs = contexts(users, rng)
    images = [orjson.dumps({k: None if v is None else str(v) for k, v in r.items()}).decode() for r in rows]

    def claim(c: dict, key: str) -> str | None:
        value = c["claims"].get(key)
        return value if isinstance(value, str) else None

    async with db.transaction():
        answer = await db.fetchval(
            "select realtime.visible_each($1::regclass, $2::jsonb[], $3, $4, $5, $6, $7)", f"public.{table}", images,
            [c["role"] for c in ctxs], [orjson.dumps(c["claims"]).decode() for c in ctxs],
            [claim(c, "sub") for c in ctxs], [claim(c, "role") for c in ctxs], [claim(c, "email") for c in ctxs])
    seen = orjson.loads(answer)
    assert len(seen) == len(ctxs)
    by_id = {i + 1: r["id"] for i, r in enumerate(rows)}
    expected = [await ground_truth(db, table, c) for c in ctxs]
    assert [{by_id[i] for i in s} for s in seen] == expected
    assert sum(map(len, expected)) > 10 and sum(1 for e in expected if not e) > 5  # a test that can fail
    # the claims set while checking do not outlive the call
    assert await db.fetchval("select coalesce(current_setting('request.jwt.claims', true), '')") == ""
