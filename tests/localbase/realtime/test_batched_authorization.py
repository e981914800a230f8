"""Realtime authorizes changes in batches (issue 14): every change waiting when fan-out is free,
per table one query that checks them all for every distinct (role, claims) subscriber. These
tests hold the batch path to what one-change-at-a-time gave: each user sees exactly their own
rows, in commit order; a policy that raises hides only the rows it raises for; a policy or
table change applies from the next change; filters of one shape with different values each
match their own rows.

Through the official async supabase-py client; tables in
migrations/20250301000000_batched_authorization.sql."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from localbase.realtime.authorize import SPLIT_AT, SPLIT_WORK
from localbase.realtime.channels import context_of
from localbase.realtime.service import RealtimeConfig
from localbase.settings import SettingsError, load_settings
from tests.localbase.helpers import user_token
from tests.localbase.realtime.conftest import client, new_user, subscribed, topic

SETTLE = 0.4


def stats(server) -> dict:
    return httpx.get(f"{server.url}/realtime/v1/api/stats", headers={"apikey": server.service_role_key}).json()


async def users_watching(server, clients, n: int, table: str, **binding):
    """n users, each subscribed to `table`; returns [(user id, inbox)]."""
    out = []
    for _ in range(n):
        uid, token = new_user(server)
        c = await client(server, token)
        clients.append(c)
        _, inbox = await subscribed(c, topic(), table=table, schema="public", **binding)
        out.append((uid, inbox))
    return out


async def test_a_burst_is_checked_in_a_few_queries_and_each_user_sees_exactly_their_rows(realtime_server, db,
                                                                                         clients):
    watchers = await users_watching(realtime_server, clients, 8, "notes", event="INSERT")
    service = await client(realtime_server, realtime_server.service_role_key)
    clients.append(service)
    _, everything = await subscribed(service, topic(), event="INSERT", table="notes", schema="public")
    before = stats(realtime_server)
    async with db.transaction():  # one transaction: one batch
        for i in range(120):
            await db.execute("insert into notes (owner_id, title) values ($1, $2)", watchers[i % 8][0], f"burst-{i}")
    for i in range(40):  # and a run of small transactions, batched as they queue up
        await db.execute("insert into notes (owner_id, title) values ($1, $2)", watchers[i % 8][0], f"run-{i}")
    for _, inbox in watchers:
        await inbox.wait_for(20)
    await everything.wait_for(160)
    await asyncio.sleep(SETTLE)
    after = stats(realtime_server)
    for k, (uid, inbox) in enumerate(watchers):
        assert [r["title"] for r in inbox.records()] == (
            [f"burst-{i}" for i in range(k, 120, 8)] + [f"run-{i}" for i in range(k, 40, 8)])
        assert all(r["owner_id"] == uid for r in inbox.records())
    assert [r["title"] for r in everything.records()] == [f"burst-{i}" for i in range(120)] + [
        f"run-{i}" for i in range(40)]
    assert after["evaluations"] - before["evaluations"] >= 160
    # the 120 rows of one transaction are one query; the 40 small ones at most one each
    assert 1 <= after["authorize_queries"] - before["authorize_queries"] <= 41


async def test_a_policy_that_raises_hides_only_the_rows_it_raises_for(realtime_server, db, clients):
    (uid, inbox), (other, others) = await users_watching(realtime_server, clients, 2, "fragile")
    async with db.transaction():
        for divisor in (1, 0, 2, 0, 5):
            await db.execute("insert into fragile (owner_id, divisor, n, image, v, k, b) "
                             "values ($1, $2, 7, 'img', 'v', 3, true)", uid, divisor)
        await db.execute("insert into fragile (owner_id) values ($1)", other)
    await inbox.wait_for(3)
    await others.wait_for(1)
    await asyncio.sleep(SETTLE)
    assert [r["divisor"] for r in inbox.records()] == [1, 2, 5]
    assert inbox.records()[0] | {"id": None} == {"id": None, "owner_id": uid, "divisor": 1, "n": 7, "image": "img",
                                                "v": "v", "k": 3, "b": True}
    assert [r["owner_id"] for r in others.records()] == [other]


async def test_a_policy_change_applies_from_the_next_change(realtime_server, db, clients):
    [(uid, inbox)] = await users_watching(realtime_server, clients, 1, "journal")
    await db.execute("insert into journal (owner_id, body) values ($1, 'before')", uid)
    await inbox.wait_for(1)
    await db.execute("alter policy \"own entries\" on journal using (owner_id = (select auth.uid()) "
                     "and body <> 'hidden')")
    try:
        await db.execute("insert into journal (owner_id, body) values ($1, 'hidden'), ($1, 'shown')", uid)
        await inbox.wait_for(2)
        await asyncio.sleep(SETTLE)
        assert [r["body"] for r in inbox.records()] == ["before", "shown"]
    finally:
        await db.execute("alter policy \"own entries\" on journal using (owner_id = (select auth.uid()))")


async def test_a_new_column_reaches_subscribers_from_the_next_change(realtime_server, db, clients):
    [(uid, inbox)] = await users_watching(realtime_server, clients, 1, "journal")
    await db.execute("insert into journal (owner_id, body) values ($1, 'plain')", uid)
    await inbox.wait_for(1)
    await db.execute("alter table journal add column mood text")
    try:
        await db.execute("insert into journal (owner_id, body, mood) values ($1, 'with mood', 'calm')", uid)
        await inbox.wait_for(2)
        assert inbox.records()[1]["mood"] == "calm" and inbox.records()[1]["body"] == "with mood"
    finally:
        await db.execute("alter table journal drop column mood")


async def test_filters_of_one_shape_each_match_their_own_rows(realtime_server, db, clients):
    uid, token = new_user(realtime_server)
    c = await client(realtime_server, token)
    clients.append(c)
    inboxes = []
    for word in ("alpha", "beta", "gamma"):
        _, inbox = await subscribed(c, topic(), table="notes", schema="public", filter=f"title=eq.{word}")
        inboxes.append(inbox)
    _, several = await subscribed(c, topic(), table="notes", schema="public", filter="title=in.(alpha,gamma)")
    async with db.transaction():
        for word in ("gamma", "alpha", "delta", "beta", "alpha"):
            await db.execute("insert into notes (owner_id, title) values ($1, $2)", uid, word)
    await inboxes[0].wait_for(2)
    await inboxes[1].wait_for(1)
    await inboxes[2].wait_for(1)
    await several.wait_for(3)
    await asyncio.sleep(SETTLE)
    assert [[r["title"] for r in inbox.records()] for inbox in inboxes] == [["alpha", "alpha"], ["beta"], ["gamma"]]
    assert [r["title"] for r in several.records()] == ["gamma", "alpha", "alpha"]


async def test_filtered_subscribers_whose_filters_match_nothing_are_not_rls_checked(realtime_server, db, clients):
    """Supabase's usual pattern - an own-row filter on top of an own-row policy: a change is
    checked by RLS only for the subscribers whose filter it matches."""
    watchers = []
    for _ in range(6):
        uid, token = new_user(realtime_server)
        c = await client(realtime_server, token)
        clients.append(c)
        _, inbox = await subscribed(c, topic(), event="INSERT", table="notes", schema="public",
                                    filter=f"owner_id=eq.{uid}")
        watchers.append((uid, inbox))
    # someone else's row matching a watcher's filter: still refused by the policy
    other, other_token = new_user(realtime_server)
    c_other = await client(realtime_server, other_token)
    clients.append(c_other)
    _, snooper = await subscribed(c_other, topic(), event="INSERT", table="notes", schema="public",
                                  filter=f"owner_id=eq.{watchers[0][0]}")
    before = stats(realtime_server)
    async with db.transaction():
        await db.execute("insert into notes (owner_id, title) values ($1, 'first')", watchers[0][0])
        await db.execute("insert into notes (owner_id, title) values ($1, 'second')", watchers[1][0])
    await watchers[0][1].wait_for(1)
    await watchers[1][1].wait_for(1)
    await asyncio.sleep(SETTLE)
    after = stats(realtime_server)
    assert [r["title"] for r in watchers[0][1].records()] == ["first"]
    assert [r["title"] for r in watchers[1][1].records()] == ["second"]
    assert all(not inbox.items for _, inbox in watchers[2:]) and snooper.items == []
    # 3 of the 7 contexts (the two owners, the snooper) checked, for the batch's 2 changes
    assert after["contexts_checked"] - before["contexts_checked"] == 3 * 2


async def test_auth_email_and_role_policies_see_each_subscribers_own_claims(realtime_server, db, clients):
    """Claims are set per subscriber, all of them: one without an e-mail claim never sees the
    previous subscriber's mail, whatever order the batch checks them in."""
    with_mail = []
    for k in range(3):
        uid = str(uuid.uuid4())
        c = await client(realtime_server, user_token(realtime_server, uid, email=f"user{k}-{uid[:8]}@example.com"))
        clients.append(c)
        _, inbox = await subscribed(c, topic(), table="mail", schema="public")
        with_mail.append((f"user{k}-{uid[:8]}@example.com", inbox))
    without = []
    for _ in range(3):
        c = await client(realtime_server, user_token(realtime_server, str(uuid.uuid4())))
        clients.append(c)
        _, inbox = await subscribed(c, topic(), table="mail", schema="public")
        without.append(inbox)
    async with db.transaction():
        for address, _ in with_mail:
            await db.execute("insert into mail (recipient, body) values ($1, 'for you')", address)
        await db.execute("insert into mail (recipient, body) values ('', 'nobody')")
    for _, inbox in with_mail:
        await inbox.wait_for(1)
    await asyncio.sleep(SETTLE)
    for address, inbox in with_mail:
        assert [r["recipient"] for r in inbox.records()] == [address]
    assert all(inbox.items == [] for inbox in without)


async def test_the_claim_values_set_per_subscriber_are_what_postgres_reads_from_the_claims(db):
    """Realtime passes each subscriber's sub, role and email (request.jwt.claim.*) from the claims
    it verified, instead of PostgreSQL parsing the claims again per batch: they must be exactly
    what `claims ->> key` gives, or None (then PostgreSQL reads them from the claims) for values
    that are not strings."""
    for claims in ({"sub": str(uuid.uuid4()), "role": "authenticated", "email": "a@example.com", "exp": 1},
                   {"role": "anon"}, {"sub": None, "role": "anon", "email": ""},
                   {"sub": 42, "role": "authenticated", "email": {"primary": "x@example.com", "n": [1, 2.5, True]}},
                   {"sub": "ü-ñ", "role": "service_role", "email": False}):
        context = context_of(claims, claims["role"])
        row = await db.fetchrow("select coalesce(c ->> 'sub', '') as sub, coalesce(c ->> 'role', '') as role, "
                                "coalesce(c ->> 'email', '') as email from (select $1::jsonb as c) as x",
                                context.claims_json)
        for key, value in zip(("sub", "role", "email"), context.claim_values, strict=True):
            assert value == row[key] or (value is None and not isinstance(claims.get(key), str | None)), claims


async def test_an_idle_subscriptions_position_is_not_rewritten_for_changes_it_is_refused(realtime_server, db,
                                                                                         clients):
    """Positions are checkpointed every 0.2 s, but one that was sent nothing only every few
    seconds (IDLE_WRITE_SECONDS): a thousand subscribers no longer cost a thousand-row UPDATE per
    checkpoint. One that was sent a change is written at the next checkpoint, as before."""
    before = {r["id"] for r in await db.fetch("select id from realtime.subscription_positions")}
    uid, token = new_user(realtime_server)
    c = await client(realtime_server, token)
    clients.append(c)
    _, inbox = await subscribed(c, topic(), event="INSERT", table="notes", schema="public")
    await asyncio.sleep(0.6)  # its first checkpoint
    [mine] = [r["id"] for r in await db.fetch("select id from realtime.subscription_positions where connected")
              if r["id"] not in before]
    first = await db.fetchval("select lsn from realtime.subscription_positions where id = $1", mine)
    for i in range(10):  # other users' rows: refused to this subscriber
        await db.execute("insert into notes (owner_id, title) values (gen_random_uuid(), $1)", f"other-{i}")
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.6)
    assert await db.fetchval("select lsn from realtime.subscription_positions where id = $1", mine) == first
    await db.execute("insert into notes (owner_id, title) values ($1, 'mine')", uid)
    await inbox.wait_for(1)
    await asyncio.sleep(0.6)
    assert await db.fetchval("select lsn from realtime.subscription_positions where id = $1", mine) > first


async def test_many_subscribers_are_checked_on_several_connections_each_seeing_only_their_rows(realtime_server, db,
                                                                                              clients):
    # more distinct users than authorize.SPLIT_AT: their checks are shared by [realtime]
    # authorize_connections backends; the policy's (select auth.uid()) is evaluated per user on each
    watchers = await users_watching(realtime_server, clients, SPLIT_AT + 6, "journal", event="INSERT")
    assert len(watchers) * 2 * len(watchers) >= SPLIT_WORK  # the batch below is worth splitting
    before = stats(realtime_server)
    async with db.transaction():  # one batch for all of them
        for round_ in range(2):
            for k, (uid, _) in enumerate(watchers):
                await db.execute("insert into journal (owner_id, body) values ($1, $2)", uid, f"many-{k}-{round_}")
    for _, inbox in watchers:
        await inbox.wait_for(2)
    await asyncio.sleep(SETTLE)
    after = stats(realtime_server)
    for k, (uid, inbox) in enumerate(watchers):
        assert [r["body"] for r in inbox.records()] == [f"many-{k}-0", f"many-{k}-1"], k
        assert all(r["owner_id"] == uid for r in inbox.records())
    assert after["split_queries"] - before["split_queries"] >= 2  # shared between connections


def test_the_number_of_authorization_connections_is_a_setting(tmp_path):
    (tmp_path / "supabase").mkdir()
    config = tmp_path / "supabase" / "localbase.toml"
    assert RealtimeConfig.from_settings(load_settings(tmp_path, with_keys=False)).authorize_connections == 2
    config.write_text("[realtime]\nauthorize_connections = 1\n")
    assert RealtimeConfig.from_settings(load_settings(tmp_path, with_keys=False)).authorize_connections == 1
    for bad in ("0", "17", '"many"'):
        config.write_text(f"[realtime]\nauthorize_connections = {bad}\n")
        with pytest.raises(SettingsError, match="authorize_connections"):
            RealtimeConfig.from_settings(load_settings(tmp_path, with_keys=False))


async def test_a_new_token_is_what_the_next_change_is_checked_with(realtime_server, db, clients):
    """Audiences are kept between batches and contexts are told to PostgreSQL once, by number: a
    channel whose token changes (here to another user's) is checked with the new claims from the
    next change on."""
    a, token_a = new_user(realtime_server)
    b, token_b = new_user(realtime_server)
    c = await client(realtime_server, token_a)
    clients.append(c)
    _, inbox = await subscribed(c, topic(), event="INSERT", table="notes", schema="public")
    await db.execute("insert into notes (owner_id, title) values ($1, 'a-1'), ($2, 'b-1')", a, b)
    await inbox.wait_for(1)
    await c.realtime.set_auth(token_b)
    await asyncio.sleep(SETTLE)
    await db.execute("insert into notes (owner_id, title) values ($1, 'a-2'), ($2, 'b-2')", a, b)
    await inbox.wait_for(2)
    await asyncio.sleep(SETTLE)
    assert [r["title"] for r in inbox.records()] == ["a-1", "b-2"]


async def test_contexts_are_told_again_to_a_new_authorization_connection(realtime_server, db, clients):
    watchers = await users_watching(realtime_server, clients, 3, "notes", event="INSERT")
    await db.execute("insert into notes (owner_id, title) values ($1, 'before')", watchers[0][0])
    await watchers[0][1].wait_for(1)
    ended = await db.fetchval("select count(pg_terminate_backend(pid)) from pg_stat_activity "
                              "where application_name = 'localbase-realtime-authorize'")
    assert ended >= 1
    for k, (uid, _) in enumerate(watchers):
        await db.execute("insert into notes (owner_id, title) values ($1, $2)", uid, f"after-{k}")
    for k, (_, inbox) in enumerate(watchers):
        await inbox.wait_for(2 if k == 0 else 1, timeout=15)
    await asyncio.sleep(SETTLE)
    assert [[r["title"] for r in inbox.records()] for _, inbox in watchers] == [
        ["before", "after-0"], ["after-1"], ["after-2"]]
