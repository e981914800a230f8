"""API keys -> roles, as Supabase's gateway reads them (and the JWT the services then see).

Accepted in `apikey` (header, or `?apikey=` for sockets):
- the project's anon and service_role keys, and any other JWT that verifies with the project's
  keys and whose role is anon or service_role (so the Supabase CLI's well-known development keys
  work once its well-known JWT secret is set, as on the CLI's stack);
- the publishable and secret keys (`sb_publishable_...` -> anon, `sb_secret_...` ->
  service_role). They are not JWTs: the services get the role's JWT in their place, by the
  Supabase CLI gateway's rule for `Authorization` - kept when it carries a token of its own,
  else (absent, or `Bearer sb_...` as supabase-js sends the key itself when signed out) the
  apikey's JWT.
"""

from __future__ import annotations

import hmac
from typing import Any

from localbase.security import jwt
from localbase.security.signing_keys import KeyRing

ROLES = ("anon", "service_role")
OPAQUE_PREFIX = b"sb_"


class ApiKeys:
    def __init__(self, *, anon_key: str, service_role_key: str, publishable_key: str, secret_key: str,
                 keyring: KeyRing):
        self.keyring = keyring
        # key -> (role, the JWT the services see for it)
        self.known: dict[bytes, tuple[str, str]] = {}
        for key, role, token in ((anon_key, "anon", anon_key), (service_role_key, "service_role", service_role_key),
                                 (publishable_key, "anon", anon_key), (secret_key, "service_role", service_role_key)):
            if key:
                self.known[key.encode()] = (role, token)

    @classmethod
    def from_settings(cls, settings: Any) -> ApiKeys:
        return cls(anon_key=settings.anon_key, service_role_key=settings.service_role_key,
                   publishable_key=settings.publishable_key, secret_key=settings.secret_key,
                   keyring=settings.keyring)

    def resolve(self, key: bytes) -> tuple[str, str] | None:
        """(role, the JWT standing for the key), or None for a key that is not the project's."""
        found = None
        for known, entry in self.known.items():  # constant time per candidate, every candidate tried
            if hmac.compare_digest(known, key):
                found = entry
        if found is not None or key.startswith(OPAQUE_PREFIX):
            return found
        token = key.decode("latin-1")
        try:
            claims = jwt.verify(token, self.keyring)
        except jwt.JWTError:
            return None
        role = claims.get("role")
        return (role, token) if role in ROLES else None

    def token_for(self, token: str) -> str | None:
        """A bearer token as the services must see it: an opaque key of the project becomes its
        role's JWT, another `sb_` key nothing (refused), anything else itself."""
        if not token.startswith("sb_"):
            return token
        found = self.resolve(token.encode())
        return found[1] if found else None

    @staticmethod
    def needs_bearer(key: bytes, authorization: bytes | None) -> bool:
        """Whether the services must get the apikey's JWT as `Authorization`: a bearer token of
        its own stays; `Bearer sb_...` is replaced, and no header at all when the apikey is an
        opaque key (a legacy key without one stays anon, as before)."""
        if authorization is None:
            return key.startswith(OPAQUE_PREFIX)
        return authorization[7:10] == OPAQUE_PREFIX and authorization[:7].lower() == b"bearer "

    @staticmethod
    def with_bearer(headers: list[tuple[bytes, bytes]], jwt_of_key: str) -> list[tuple[bytes, bytes]]:
        kept = [(name, value) for name, value in headers if name != b"authorization"]
        kept.append((b"authorization", b"Bearer " + jwt_of_key.encode("latin-1")))
        return kept
