"""[storage] enabled = false (here through LOCALBASE_STORAGE_ENABLED): /storage/v1 answers 404 in
Storage's shape and the other services run as usual."""

from __future__ import annotations

import httpx

from localbase.testing.server import LocalbaseProcess
from tests.localbase.storage.conftest import PROJECT


def test_storage_can_be_turned_off():
    with LocalbaseProcess(PROJECT, env={"LOCALBASE_STORAGE_ENABLED": "false"}) as server:
        auth = {"Authorization": f"Bearer {server.service_role_key}", "apikey": server.service_role_key}
        response = httpx.get(f"{server.url}/storage/v1/bucket", headers=auth)
        assert response.status_code == 404 and response.json()["statusCode"] == "404"
        assert "not enabled" in response.json()["message"]
        assert httpx.get(f"{server.url}/rest/v1/", headers=auth).status_code == 200
        assert not (server.data_dir / "storage").exists()
