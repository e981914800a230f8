"""The project's JWT secret and API keys, generated once per data folder.

Two generations of API keys, as on Supabase: the legacy anon / service_role keys (JWTs signed
with the project's secret) and the opaque publishable / secret keys (`sb_publishable_...`,
`sb_secret_...`), which the gateway maps to the anon / service_role role. Any of them may be
fixed by config (`[auth] anon_key`, ... as in the Supabase CLI's config.toml) or environment
(`LOCALBASE_ANON_KEY`, ...); the others are generated and kept in `<data_dir>/keys.json`."""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from localbase.security import jwt

KEYS_FILE = "keys.json"
# Supabase's local keys expire in ten years; ours too.
KEY_LIFETIME_S = 10 * 365 * 24 * 3600
PUBLISHABLE_PREFIX = "sb_publishable_"
SECRET_PREFIX = "sb_secret_"


@dataclass(frozen=True)
class ProjectKeys:
    jwt_secret: str
    anon_key: str
    service_role_key: str
    publishable_key: str = ""
    secret_key: str = ""


@dataclass(frozen=True)
class FixedKeys:
    """Keys the configuration sets; None: generated (or kept from keys.json)."""

    jwt_secret: str | None = None
    anon_key: str | None = None
    service_role_key: str | None = None
    publishable_key: str | None = None
    secret_key: str | None = None


def make_api_key(role: str, secret: str, now: int | None = None) -> str:
    now = int(time.time()) if now is None else now
    return jwt.sign({"iss": "localbase", "role": role, "iat": now, "exp": now + KEY_LIFETIME_S}, secret)


def make_opaque_key(prefix: str) -> str:
    """`sb_publishable_<22>_<8>` / `sb_secret_<22>_<8>`, shaped like Supabase's."""
    return f"{prefix}{secrets.token_urlsafe(16)[:22]}_{secrets.token_urlsafe(6)[:8]}"


def load_or_create(data_dir: Path, jwt_secret: str | None = None, fixed: FixedKeys | None = None) -> ProjectKeys:
    """Keys kept in `<data_dir>/keys.json` (mode 0600). A secret or key given by the configuration
    wins; the JWT keys are re-signed when the secret differs from the stored one."""
    fixed = fixed or FixedKeys()
    path = data_dir / KEYS_FILE
    stored: dict[str, str] = {}
    if path.exists():
        stored = json.loads(path.read_text())
    secret = fixed.jwt_secret or jwt_secret or stored.get("jwt_secret") or secrets.token_urlsafe(48)
    same_secret = stored.get("jwt_secret") == secret
    keys = ProjectKeys(
        secret,
        fixed.anon_key or (same_secret and stored.get("anon_key")) or make_api_key("anon", secret),
        fixed.service_role_key or (same_secret and stored.get("service_role_key"))
        or make_api_key("service_role", secret),
        fixed.publishable_key or stored.get("publishable_key") or make_opaque_key(PUBLISHABLE_PREFIX),
        fixed.secret_key or stored.get("secret_key") or make_opaque_key(SECRET_PREFIX),
    )
    if asdict(keys) != stored:
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(asdict(keys), fh, indent=2)
        os.replace(tmp, path)
    return keys
