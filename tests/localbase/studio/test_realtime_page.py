"""The Realtime inspector in the browser: joined as a user, an insert of theirs arrives live (and
another user's does not: RLS decides, as for an app); a broadcast and a presence arrive too, the
inspector's own and an app's (supabase-py's realtime client on the same channel); the page never
holds a key or token."""

from __future__ import annotations

import asyncio
import uuid

from playwright.async_api import expect

from supabase import AsyncClientOptions, ClientOptions, acreate_client, create_client
from tests.localbase.studio.conftest import PASSWORD, note, shot, unique


def signed_in(server, email: str):
    client = create_client(server.url, server.anon_key,
                           options=ClientOptions(auto_refresh_token=False, persist_session=False))
    client.auth.sign_in_with_password({"email": email, "password": PASSWORD})
    return client


async def test_watch_a_realtime_insert_arrive(studio, studio_server, make_user):
    ann_id, ann = make_user("rt-ann")
    bob_id, _ = make_user("rt-bob")
    topic = unique("room")
    await studio.goto("/realtime")
    join = studio.locator("#join")
    await join.locator('input[name="topic"]').fill(topic)
    await join.locator('select[name="role"]').select_option("user")
    await join.locator('input[name="user"]').fill(ann)
    await join.locator('input[name="table"]').fill("public.notes")
    await join.locator('select[name="event"]').select_option("INSERT")
    await join.locator('input[name="presence_key"]').fill("inspector")
    await join.get_by_role("button", name="Join").click()
    relay = studio.locator(f'section.relay[data-topic="{topic}"]')
    await expect(relay.locator('.event[data-kind="status"]')).to_contain_text("SUBSCRIBED", timeout=15_000)
    await studio.evaluate("window.__same_page = true")

    title = unique("live")
    signed_in(studio_server, ann).table("notes").insert({"title": title}).execute()  # her own row, via REST
    note(studio_server, bob_id, unique("bobs"))  # someone else's: RLS keeps it from her
    changes = relay.locator('.event[data-kind="postgres_changes"]')
    await expect(changes.first).to_contain_text(title, timeout=15_000)
    await expect(changes.first).to_contain_text("INSERT public.notes")
    await expect(changes.first).to_contain_text(ann_id)

    await relay.locator('input[name="event"]').fill("ping")
    await relay.get_by_role("button", name="Broadcast").click()
    await expect(relay.locator('.event[data-kind="broadcast"]').first).to_contain_text("event 'ping'")
    await relay.get_by_role("button", name="Track presence").click()
    await expect(relay.locator('.event[data-kind="presence"]').first).to_contain_text("inspector")
    assert await studio.evaluate("window.__same_page === true")  # all of it arrived without a reload
    await expect(changes).to_have_count(1)  # bob's row never came
    await shot(studio, "realtime")

    html = await studio.content()
    keys = studio_server.keys
    assert keys["anon_key"] not in html and keys["service_role_key"] not in html and "eyJ" not in html
    await relay.get_by_role("button", name="Leave").click()
    await expect(studio.locator(f'section.relay[data-topic="{topic}"]')).to_have_count(0)


async def test_an_apps_broadcast_and_presence_arrive(studio, studio_server):
    topic = unique("room")
    await studio.goto("/realtime")
    join = studio.locator("#join")
    await join.locator('input[name="topic"]').fill(topic)
    await join.locator('select[name="role"]').select_option("anon")
    await join.locator('input[name="presence_key"]').fill("inspector")
    await join.get_by_role("button", name="Join").click()
    relay = studio.locator(f'section.relay[data-topic="{topic}"]')
    await expect(relay.locator('.event[data-kind="status"]')).to_contain_text("SUBSCRIBED", timeout=15_000)

    app = await acreate_client(studio_server.url, studio_server.anon_key,
                               options=AsyncClientOptions(auto_refresh_token=False, persist_session=False))
    try:
        joined = asyncio.get_running_loop().create_future()
        channel = app.channel(topic, {"config": {"presence": {"key": "phone-app", "enabled": True}}})
        await channel.subscribe(lambda state, _err: joined.done() or joined.set_result(state))
        assert getattr(await asyncio.wait_for(joined, 15), "value", None) == "SUBSCRIBED"
        await channel.track({"screen": "checkout"})
        await channel.send_broadcast("cart", {"items": 3})
        presence = relay.locator('.event[data-kind="presence"]', has_text="join phone-app")
        await expect(presence).to_contain_text("checkout", timeout=15_000)
        broadcast = relay.locator('.event[data-kind="broadcast"]', has_text="event 'cart'")
        await expect(broadcast).to_contain_text('"items": 3', timeout=15_000)
    finally:
        await app.realtime.close()
    await expect(relay.locator('.event[data-kind="presence"]', has_text="leave phone-app")).to_have_count(
        1, timeout=15_000)


async def test_a_bad_join_says_why(studio):
    await studio.goto("/realtime")
    join = studio.locator("#join")
    await join.locator('select[name="role"]').select_option("user")
    await join.locator('input[name="user"]').fill(f"nobody-{uuid.uuid4().hex[:6]}@example.com")
    await join.get_by_role("button", name="Join").click()
    await expect(studio.locator("#flash")).to_contain_text("no user with email")
