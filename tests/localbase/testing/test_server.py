"""The test servers (localbase/testing/server.py): a port picked for a server but taken by someone
else before the server binds it does not fail the test - the server is started on other ports."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx

from localbase.testing.server import LocalbaseProcess

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
