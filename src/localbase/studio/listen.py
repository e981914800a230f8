"""Studio's listening socket, bound by `localbase start` before PostgreSQL starts (a port in use is
a clear error at once, and port 0 picks a free one). Kept apart from serve.py so that binding it
imports no web server."""

from __future__ import annotations

import socket

from localbase.studio.config import StudioSettings, is_wildcard


def bind(studio: StudioSettings) -> socket.socket | None:
    """Studio's listening socket (None when disabled)."""
    if not studio.enabled:
        return None
    host = "0.0.0.0" if is_wildcard(studio.host) and ":" not in studio.host else studio.host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, studio.port))
    except OSError as exc:
        sock.close()
        raise OSError(f"port {studio.port} for Studio on {host} cannot be used ({exc.strerror}); choose another "
                      "with --studio-port (or [studio] port), or start with --no-studio") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def url(studio: StudioSettings, sock: socket.socket | None) -> str | None:
    return studio.url(sock.getsockname()[1]) if sock is not None else None
