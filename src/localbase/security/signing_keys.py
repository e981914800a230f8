"""Asymmetric JWT signing keys, as the Supabase CLI configures them: `[auth] signing_keys_path`
names a JSON file holding a JWK set (the CLI's `supabase gen signing-key` writes an array of
private JWKs; `{"keys": [...]}` is read too). ES256 (EC P-256) and RS256 (RSA) keys.

As GoTrue reads GOTRUE_JWT_KEYS: the key whose `key_ops` include "sign" signs new tokens (its
`kid` in their header); every other key only verifies, so a rotation keeps the old key (its
`key_ops` ["verify"], with or without its private part) until the tokens it signed expired.
A file of one key without `key_ops` signs with it. The project's shared secret (HS256) keeps
verifying the tokens and API keys signed with it.

`KeyRing` is what every service verifies with (security.jwt), one object per process. PyJWT's
JWK helpers (and `cryptography`) are imported when a key is read or written, not before."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# alg -> (kty, the name of PyJWT's JWK helper in jwt.algorithms)
ALGORITHMS: dict[str, tuple[str, str]] = {"ES256": ("EC", "ECAlgorithm"), "RS256": ("RSA", "RSAAlgorithm")}
PRIVATE_FIELDS = ("d", "p", "q", "dp", "dq", "qi", "oth")


def jwk_helper(alg: str) -> Any:
    """PyJWT's class that reads and writes JWKs of `alg` (ECAlgorithm or RSAAlgorithm)."""
    from jwt import algorithms
    return getattr(algorithms, ALGORITHMS[alg][1])


class SigningKeyError(ValueError):
    """The signing keys file is unusable; the message says why (never a key's value)."""


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: str
    public: Any  # a cryptography public key
    private: Any | None = None  # None: a verify-only key (e.g. a retired key's public half)
    signs: bool = False

    def public_jwk(self) -> dict[str, Any]:
        """What /.well-known/jwks.json publishes: the public half, `use` sig, `key_ops` verify."""
        jwk = jwk_helper(self.alg).to_jwk(self.public, as_dict=True)
        jwk.pop("key_ops", None)
        return {**jwk, "kid": self.kid, "alg": self.alg, "use": "sig", "key_ops": ["verify"], "ext": True}

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickled as JWKs (cryptography's key objects do not pickle): the settings holding the
        keys go to every worker process that `--workers N` spawns."""
        helper = jwk_helper(self.alg)
        private = None if self.private is None else helper.to_jwk(self.private, as_dict=True)
        return _unpickle, (self.kid, self.alg, helper.to_jwk(self.public, as_dict=True), private, self.signs)


def _unpickle(kid: str, alg: str, public: dict[str, Any], private: dict[str, Any] | None, signs: bool) -> SigningKey:
    import jwt as pyjwt

    def key(jwk: dict[str, Any]) -> Any:
        return pyjwt.PyJWK(jwk, algorithm=alg).key
    return SigningKey(kid, alg, key(public), None if private is None else key(private), signs)


@dataclass(frozen=True, eq=False)  # hashed by identity: verified tokens are cached per ring
class KeyRing:
    """The project's JWT keys: the shared secret (HS256) and any asymmetric keys."""

    secret: str
    keys: tuple[SigningKey, ...] = ()

    @property
    def signing(self) -> SigningKey | None:
        return next((k for k in self.keys if k.signs), None)

    def candidates(self, alg: Any, kid: Any) -> list[SigningKey]:
        """The keys a token of this header may be checked with: the same algorithm (so an RS256
        token is never checked with an EC key, nor anything with the secret), and its `kid`."""
        return [k for k in self.keys if k.alg == alg and (kid is None or k.kid == kid)]

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.public_jwk() for k in self.keys]}


def load(path: Path) -> tuple[SigningKey, ...]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise SigningKeyError(f"cannot read the signing keys file {path}: {exc.strerror or exc}") from None
    return parse(text, str(path))


def parse(text: str, source: str = "signing keys") -> tuple[SigningKey, ...]:
    try:
        data = json.loads(text)
    except ValueError:
        raise SigningKeyError(f"{source}: not JSON (expected a JWK set, as `supabase gen signing-key` "
                              "writes)") from None
    items = data.get("keys") if isinstance(data, dict) and "keys" in data else data
    if isinstance(items, dict):  # one bare JWK
        items = [items]
    if not isinstance(items, list) or not items:
        raise SigningKeyError(f"{source}: expected a non-empty array of JWKs")
    keys = [_key(item, f"{source}, key {n}") for n, item in enumerate(items, 1)]
    if len({k.kid for k in keys}) != len(keys):
        raise SigningKeyError(f"{source}: two keys share a kid")
    signing = [k for k in keys if k.signs]
    if not signing and len(keys) == 1 and keys[0].private is not None and "key_ops" not in items[0]:
        keys = [SigningKey(keys[0].kid, keys[0].alg, keys[0].public, keys[0].private, signs=True)]
        signing = keys
    if len(signing) != 1:
        raise SigningKeyError(f"{source}: exactly one key must have \"sign\" in its key_ops "
                              f"(found {len(signing)}); the others verify only")
    return tuple(keys)


def _key(item: Any, where: str) -> SigningKey:
    if not isinstance(item, dict):
        raise SigningKeyError(f"{where}: not a JWK object")
    kid, alg, kty = item.get("kid"), item.get("alg"), item.get("kty")
    if not isinstance(kid, str) or not kid:
        raise SigningKeyError(f"{where}: a kid is required (it names the key in each token's header)")
    if alg not in ALGORITHMS:
        raise SigningKeyError(f"{where} ({kid}): alg must be one of {', '.join(ALGORITHMS)}, got {alg!r}")
    if kty != ALGORITHMS[alg][0] or (alg == "ES256" and item.get("crv") != "P-256"):
        raise SigningKeyError(f"{where} ({kid}): an {alg} key is kty {ALGORITHMS[alg][0]}"
                              + (" on curve P-256" if alg == "ES256" else ""))
    ops = item.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or not all(isinstance(o, str) for o in ops)):
        raise SigningKeyError(f"{where} ({kid}): key_ops must be an array of strings")
    import jwt as pyjwt
    try:
        parsed = pyjwt.PyJWK(item, algorithm=alg).key
    except (pyjwt.PyJWKError, pyjwt.InvalidKeyError, ValueError, TypeError) as exc:
        raise SigningKeyError(f"{where} ({kid}): not a usable {alg} key ({type(exc).__name__})") from None
    private = parsed if any(f in item for f in PRIVATE_FIELDS) else None
    public = parsed.public_key() if private is not None else parsed
    signs = ops is not None and "sign" in ops
    if signs and private is None:
        raise SigningKeyError(f"{where} ({kid}): key_ops has \"sign\" but the private part is missing")
    return SigningKey(kid, alg, public, private, signs)


def generate(alg: str = "ES256") -> dict[str, Any]:
    """A new private JWK as `supabase gen signing-key` writes it (a fresh kid, key_ops sign+verify)."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if alg not in ALGORITHMS:
        raise SigningKeyError(f"algorithm must be one of {', '.join(ALGORITHMS)}, got {alg!r}")
    key = ec.generate_private_key(ec.SECP256R1()) if alg == "ES256" else \
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = jwk_helper(alg).to_jwk(key, as_dict=True)
    jwk.pop("key_ops", None)
    return {**jwk, "kid": str(uuid.uuid4()), "use": "sig", "key_ops": ["sign", "verify"], "alg": alg, "ext": True}


def rotated(current: list[dict[str, Any]], new: dict[str, Any]) -> list[dict[str, Any]]:
    """The JWK set after a rotation: the new key signs, the old ones only verify (tokens they
    signed stay valid until they expire; drop them from the file after that)."""
    kept = [{**k, "key_ops": ["verify"]} for k in current]
    return [new, *kept]
