"""/events/{id}/evidence through the running API: the owner uploads (multipart), lists with signed
links, downloads; a supervisor reads; another citizen gets 404; bad files get Storage's refusals."""

from __future__ import annotations

import httpx

from efficiency_hub.models import Clearance
from tests.hub.api.conftest import bearer


async def test_attach_list_download_through_the_api(api, make_person, admin):
    boss = await make_person(Clearance.indigo)
    worker = await make_person(Clearance.orange)
    peer = await make_person(Clearance.orange)
    await admin.assign_supervisor(boss.citizen_id, worker.citizen_id)
    event = (await api.post("/events", json={"event_type": "report_filed", "efficiency_delta": 2},
                            headers=bearer(worker.token))).json()
    path = f"/events/{event['id']}/evidence"
    attached = await api.post(path, files={"file": ("visit notes.txt", b"checked 3 sites", "text/plain")},
                              headers=bearer(worker.token))
    assert attached.status_code == 201, attached.text
    assert attached.json()["name"] == "visit-notes.txt" and attached.json()["size"] == 15
    listed = await api.get(path, headers=bearer(boss.token))
    assert [f["name"] for f in listed.json()] == ["visit-notes.txt"]
    assert httpx.get(listed.json()[0]["url"]).content == b"checked 3 sites"
    got = await api.get(f"{path}/visit-notes.txt", headers=bearer(boss.token))
    assert got.status_code == 200 and got.content == b"checked 3 sites"
    assert got.headers["content-type"].startswith("text/plain")
    assert (await api.get(path, headers=bearer(peer.token))).status_code == 404
    refused = await api.post(path, files={"file": ("x.txt", b"x", "text/plain")}, headers=bearer(boss.token))
    assert refused.status_code == 403
    wrong_type = await api.post(path, files={"file": ("a.zip", b"PK", "application/zip")},
                                headers=bearer(worker.token))
    assert wrong_type.status_code == 415
    assert (await api.delete(f"{path}/visit-notes.txt", headers=bearer(worker.token))).status_code == 204
    assert (await api.get(path, headers=bearer(worker.token))).json() == []
