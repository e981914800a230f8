"""The project's keys as configured: `[auth]` jwt_secret, anon_key, service_role_key,
publishable_key, secret_key and signing_keys_path in supabase/config.toml (the Supabase CLI's
names; a value may read `env(NAME)` as in the CLI's config), or LOCALBASE_JWT_SECRET,
LOCALBASE_ANON_KEY, LOCALBASE_SERVICE_ROLE_KEY, LOCALBASE_PUBLISHABLE_KEY, LOCALBASE_SECRET_KEY,
LOCALBASE_AUTH_SIGNING_KEYS_PATH (which win). Checked at start: a fixed key that the services
would refuse stops the server with the reason."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from localbase.security import jwt, signing_keys
from localbase.security.keys import PUBLISHABLE_PREFIX, SECRET_PREFIX, FixedKeys
from localbase.settings import Settings, SettingsError

ENV_REFERENCE = re.compile(r"env\(([A-Za-z_][A-Za-z0-9_]*)\)")
MIN_SECRET = 32


def configured(auth: dict[str, Any], key: str, env_name: str) -> str | None:
    """The environment variable, else `[auth] <key>` (with `env(NAME)` resolved), else None."""
    value = os.environ.get(env_name) or None
    where = env_name
    if value is None:
        raw = auth.get(key)
        if raw in (None, ""):
            return None
        where = f"[auth] {key}"
        value = str(raw)
        match = ENV_REFERENCE.fullmatch(value.strip())
        if match:
            value = os.environ.get(match.group(1)) or None
            if value is None:
                raise SettingsError(f"{where} reads env({match.group(1)}), which is not set")
    return value


def fixed_keys(auth: dict[str, Any]) -> FixedKeys:
    secret = configured(auth, "jwt_secret", "LOCALBASE_JWT_SECRET")
    if secret is not None and len(secret) < MIN_SECRET:
        raise SettingsError(f"the JWT secret (LOCALBASE_JWT_SECRET / [auth] jwt_secret) must be at least "
                            f"{MIN_SECRET} characters long")
    return FixedKeys(jwt_secret=secret,
                     anon_key=configured(auth, "anon_key", "LOCALBASE_ANON_KEY"),
                     service_role_key=configured(auth, "service_role_key", "LOCALBASE_SERVICE_ROLE_KEY"),
                     publishable_key=configured(auth, "publishable_key", "LOCALBASE_PUBLISHABLE_KEY"),
                     secret_key=configured(auth, "secret_key", "LOCALBASE_SECRET_KEY"))


def signing_keys_of(settings: Settings, auth: dict[str, Any]) -> tuple[signing_keys.SigningKey, ...]:
    """[auth] signing_keys_path (relative to supabase/, as the CLI resolves it)."""
    raw = configured(auth, "signing_keys_path", "LOCALBASE_AUTH_SIGNING_KEYS_PATH")
    if raw is None:
        return ()
    path = Path(raw)
    if not path.is_absolute():
        path = settings.supabase_dir / path
    try:
        return signing_keys.load(path)
    except signing_keys.SigningKeyError as exc:
        raise SettingsError(f"[auth] signing_keys_path: {exc}") from None


def check_fixed_keys(settings: Settings, fixed: FixedKeys) -> None:
    for name, role in (("anon_key", "anon"), ("service_role_key", "service_role")):
        value = getattr(fixed, name)
        if value is None:
            continue
        try:
            claims = jwt.verify(value, settings.keyring)
        except jwt.JWTError as exc:
            raise SettingsError(f"the configured {name} does not verify with the project's JWT keys "
                                f"({exc.reason})") from None
        if claims.get("role") != role:
            raise SettingsError(f"the configured {name} carries role {claims.get('role')!r}, not {role!r}")
    for name, prefix in (("publishable_key", PUBLISHABLE_PREFIX), ("secret_key", SECRET_PREFIX)):
        value = getattr(fixed, name)
        if value is not None and (not value.startswith(prefix) or len(value) < len(prefix) + 16):
            raise SettingsError(f"the configured {name} must look like {prefix}<at least 16 characters>")
