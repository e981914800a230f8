"""The project's JWT secret and the anon / service_role API keys, generated once per data folder."""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from localbase.security import jwt

KEYS_FILE = "keys.json"
# Supabase's local keys expire in ten years; ours too.
KEY_LIFETIME_S = 10 * 365 * 24 * 3600


@dataclass(frozen=True)
class ProjectKeys:
    jwt_secret: str
    anon_key: str
    service_role_key: str


def make_api_key(role: str, secret: str, now: int | None = None) -> str:
    now = int(time.time()) if now is None else now
    return jwt.sign({"iss": "localbase", "role": role, "iat": now, "exp": now + KEY_LIFETIME_S}, secret)


def load_or_create(data_dir: Path, jwt_secret: str | None = None) -> ProjectKeys:
    """Keys kept in `<data_dir>/keys.json` (mode 0600). A secret given by the environment wins,
    and the keys are re-signed when it differs from the stored one."""
    path = data_dir / KEYS_FILE
    stored: dict[str, str] = {}
    if path.exists():
        stored = json.loads(path.read_text())
    secret = jwt_secret or stored.get("jwt_secret") or secrets.token_urlsafe(48)
    if stored.get("jwt_secret") == secret and stored.get("anon_key") and stored.get("service_role_key"):
        return ProjectKeys(secret, stored["anon_key"], stored["service_role_key"])
    keys = ProjectKeys(secret, make_api_key("anon", secret), make_api_key("service_role", secret))
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(keys.__dict__, fh, indent=2)
    os.replace(tmp, path)
    return keys
