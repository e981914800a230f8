"""Evidence files on events (efficiency_hub.evidence, Storage bucket efficiency-evidence): the
owner attaches, the owner and their supervisors read, nobody else sees them and only the owner
writes — the bucket's policies in supabase/migrations decide, through the hub's supabase client."""

from __future__ import annotations

import httpx
import pytest
from storage3.exceptions import StorageApiError

from efficiency_hub.errors import NotFound, PermissionDenied, TooLarge, UnsupportedType
from efficiency_hub.evidence import Evidence, safe_name
from efficiency_hub.models import Clearance
from efficiency_hub.tracker import Tracker


@pytest.fixture
async def team(make_person, as_user, admin):
    boss = await make_person(Clearance.indigo, name="Boss")
    worker = await make_person(Clearance.orange, name="Worker")
    peer = await make_person(Clearance.orange, name="Peer")
    await admin.assign_supervisor(boss.citizen_id, worker.citizen_id)
    event = await Tracker(await as_user(worker)).record_event(worker.citizen_id, "task_completed", 3)
    return boss, worker, peer, event


async def test_owner_attaches_and_the_supervisor_reads(team, as_user):
    boss, worker, _, event = team
    mine = Evidence(await as_user(worker))
    stored = await mine.attach(event.id, "field report 1.txt", b"all done", "text/plain")
    assert (stored.name, stored.size, stored.content_type) == ("field-report-1.txt", 8, "text/plain")
    assert stored.path == f"{event.citizen_id}/{event.id}/field-report-1.txt"
    await mine.attach(event.id, "photo.png", b"\x89PNG...", "image/png")
    theirs = Evidence(await as_user(boss))
    files = await theirs.files(event.id)
    assert sorted(f.name for f in files) == ["field-report-1.txt", "photo.png"]
    link = next(f.url for f in files if f.name == "field-report-1.txt")
    assert link and httpx.get(link).content == b"all done"  # a signed link works without credentials
    assert await theirs.download(event.id, "field-report-1.txt") == (b"all done", "text/plain")


async def test_others_neither_see_nor_write(team, as_user):
    boss, worker, peer, event = team
    await Evidence(await as_user(worker)).attach(event.id, "report.txt", b"secret work", "text/plain")
    stranger = Evidence(await as_user(peer))
    with pytest.raises(NotFound):  # the event itself is not theirs to see
        await stranger.files(event.id)
    supervisor = Evidence(await as_user(boss))
    with pytest.raises(PermissionDenied):  # the supervisor reads but does not write
        await supervisor.attach(event.id, "planted.txt", b"x", "text/plain")
    with pytest.raises(NotFound):
        await supervisor.remove(event.id, "report.txt")
    own_event = await Tracker(await as_user(peer)).record_event(peer.citizen_id, "task_completed", 1)
    with pytest.raises(StorageApiError) as planted:  # nor files in someone else's folder, whatever the event
        await stranger.client.storage.from_("efficiency-evidence").upload(
            f"{event.citizen_id}/{own_event.id}/x.txt", b"x", {"content-type": "text/plain"})
    assert planted.value.status == "403"
    assert [f.name for f in await supervisor.files(event.id)] == ["report.txt"]


async def test_owner_replaces_and_removes_and_limits_hold(team, as_user):
    _, worker, _, event = team
    mine = Evidence(await as_user(worker))
    await mine.attach(event.id, "r.txt", b"v1", "text/plain")
    await mine.attach(event.id, "r.txt", b"version 2", "text/plain")
    assert await mine.download(event.id, "r.txt") == (b"version 2", "text/plain")
    with pytest.raises(UnsupportedType):
        await mine.attach(event.id, "tool.exe", b"MZ", "application/x-msdownload")
    with pytest.raises(TooLarge):
        await mine.attach(event.id, "huge.txt", b"x" * (10 * 1024 * 1024 + 1), "text/plain")
    await mine.remove(event.id, "r.txt")
    assert await mine.files(event.id) == []


def test_safe_names():
    assert safe_name("My Report (final).pdf") == "My-Report-_final_.pdf"
    assert safe_name("../../etc/passwd") == "etc_passwd" and safe_name("   ") == "file"
