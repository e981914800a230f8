"""Studio's settings, read with the others at start (localbase.settings).

In supabase/config.toml, the Supabase CLI's keys: [studio] enabled, port. Keys only Localbase knows
go to supabase/localbase.toml (the Supabase CLI refuses unknown keys in config.toml): [studio] host,
password_hash, allowed_hosts, ssl_certfile, ssl_keyfile. Then LOCALBASE_STUDIO (true/false),
LOCALBASE_STUDIO_HOST, LOCALBASE_STUDIO_PORT, LOCALBASE_STUDIO_PASSWORD_HASH; then the flags of
`localbase start` (--studio-port, --studio-host, --no-studio).

Studio acts as the service role and runs any SQL: it listens on loopback unless told otherwise, and
a listen address reachable from other machines is refused without a password (`check`)."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_STUDIO_PORT = 54323
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class StudioSettingsError(ValueError):
    """A [studio] setting that cannot be used (localbase.settings turns it into a SettingsError)."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_wildcard(host: str) -> bool:
    return host in ("", "0.0.0.0", "::", "[::]")


@dataclass(frozen=True)
class StudioSettings:
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = DEFAULT_STUDIO_PORT  # 0: any free port (the one chosen is in `localbase status`)
    password_hash: str = ""  # bcrypt, made by `localbase studio hash-password`
    allowed_hosts: tuple[str, ...] = ()  # Host header names accepted besides loopback and `host`
    ssl_certfile: str = ""
    ssl_keyfile: str = ""

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    @property
    def tls(self) -> bool:
        return bool(self.ssl_certfile)

    @property
    def login_required(self) -> bool:
        return bool(self.password_hash)

    def url(self, port: int | None = None) -> str:
        host = self.host
        if is_wildcard(host):
            host = "127.0.0.1"
        elif ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"{'https' if self.tls else 'http'}://{host}:{port if port is not None else self.port}"

    def check(self) -> None:
        """Refuse what must not start: Studio reachable from the network without a password."""
        if self.enabled and not self.loopback and not self.password_hash:
            raise StudioSettingsError(
                f"Studio would listen on {self.host or '0.0.0.0'}, reachable from other machines, without a "
                "password. Set [studio] password_hash in supabase/localbase.toml (or "
                "LOCALBASE_STUDIO_PASSWORD_HASH) to the output of `localbase studio hash-password`, keep it on "
                "127.0.0.1, or start with --no-studio.")

    @classmethod
    def load(cls, section: Mapping[str, Any], env: Mapping[str, str] | None = None, *,
             enabled: bool | None = None, host: str | None = None, port: int | None = None) -> StudioSettings:
        env = os.environ if env is None else env
        if enabled is None:
            enabled = _bool("LOCALBASE_STUDIO", env.get("LOCALBASE_STUDIO"))
        if enabled is None:
            enabled = _bool("[studio] enabled", section.get("enabled", True))
        raw_port = port if port is not None else env.get("LOCALBASE_STUDIO_PORT") or section.get("port")
        try:
            port_value = DEFAULT_STUDIO_PORT if raw_port in (None, "") else int(raw_port)
        except (TypeError, ValueError):
            raise StudioSettingsError(f"the Studio port must be an integer, got {raw_port!r}") from None
        if not 0 <= port_value <= 65535:
            raise StudioSettingsError(f"the Studio port must be 0-65535, got {port_value}")
        password_hash = str(env.get("LOCALBASE_STUDIO_PASSWORD_HASH") or section.get("password_hash") or "")
        if password_hash and not password_hash.startswith(("$2a$", "$2b$", "$2y$")):
            raise StudioSettingsError("[studio] password_hash must be a bcrypt hash (`localbase studio "
                                      "hash-password` makes one), not a password")
        allowed = section.get("allowed_hosts", ())
        if isinstance(allowed, str) or not all(isinstance(h, str) for h in allowed):
            raise StudioSettingsError("[studio] allowed_hosts must be a list of host names")
        settings = cls(
            enabled=bool(enabled),
            host=str(host or env.get("LOCALBASE_STUDIO_HOST") or section.get("host") or "127.0.0.1"),
            port=port_value,
            password_hash=password_hash,
            allowed_hosts=tuple(h.lower() for h in allowed),
            ssl_certfile=str(section.get("ssl_certfile") or ""),
            ssl_keyfile=str(section.get("ssl_keyfile") or ""),
        )
        if bool(settings.ssl_certfile) != bool(settings.ssl_keyfile):
            raise StudioSettingsError("[studio] ssl_certfile and ssl_keyfile go together")
        return settings


def _bool(name: str, value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if str(value).lower() in _TRUE:
        return True
    if str(value).lower() in _FALSE:
        return False
    raise StudioSettingsError(f"{name} must be true or false, got {value!r}")


def hash_password(password: str) -> str:
    """A bcrypt hash of Studio's password, for [studio] password_hash."""
    import bcrypt
    if len(password) < 8:
        raise ValueError("a Studio password needs at least 8 characters")
    if len(password.encode()) > 72:
        raise ValueError("bcrypt takes at most 72 bytes of a password")
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(12)).decode()


def verify_password(password: str, hashed: str) -> bool:
    import bcrypt
    try:
        return bcrypt.checkpw(password.encode()[:72], hashed.encode())
    except ValueError:
        return False
