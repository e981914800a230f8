"""The API under test runs as it does in production: uvicorn in its own process, configured by
SUPABASE_URL / SUPABASE_ANON_KEY, talking to Localbase over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest

from localbase.testing.server import free_port


@pytest.fixture(scope="session")
def api_url(hub_server):
    port = free_port()
    env = {**os.environ, "SUPABASE_URL": hub_server.url, "SUPABASE_ANON_KEY": hub_server.anon_key}
    env.pop("SUPABASE_SERVICE_ROLE_KEY", None)  # the API serves users with their own tokens only
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "efficiency_hub.api:create_app", "--factory",
                             "--port", str(port), "--log-level", "warning"], env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120  # a loaded machine (CI beside other suites) may need it
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"the hub API (uvicorn on {url}) exited with {proc.returncode} before serving")
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"the hub API (uvicorn on {url}) did not answer /health within 120 s")
        time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture
async def api(api_url):
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
