"""The test servers (localbase/testing/server.py): a port picked for a server but taken by someone
else before the server binds it does not fail the test - the server is started on other ports."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from localbase.testing.server import PORT_TAKEN, LocalbaseProcess

PROJECT = Path(__file__).parents[1] / "project"


def test_a_picked_port_taken_before_start_is_replaced(tmp_path):
    server = LocalbaseProcess(PROJECT, tmp_path / "data")
    taken = server.port
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", taken))
        holder.listen()
        with server:
            assert server.port != taken
            assert httpx.get(f"{server.url}/health", timeout=5).status_code == 200


@pytest.mark.parametrize("said", [
    "port 4242 for the API on 127.0.0.1 cannot be used (Address already in use); pick another with --port",
    # the port was free at the check and taken before uvicorn bound it (seen in CI)
    '{"level":"error","logger":"uvicorn.error","msg":"[Errno 98] error while attempting to bind on address '
    "('127.0.0.1', 42453): address already in use\"}",
    'LOG:  could not bind IPv4 address "127.0.0.1": Address already in use',
])
def test_every_way_a_server_says_its_port_is_taken_is_recognised(said):
    assert PORT_TAKEN.search(said)


def test_other_start_up_failures_are_not_taken_for_a_port():
    assert not PORT_TAKEN.search("localbase exited with 3: migration 20250101000000_items.sql failed: syntax error")
