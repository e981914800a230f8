"""The shared verifier with asymmetric keys (security.jwt + security.signing_keys): the token's
header picks a key, never the algorithm family - alg none, HS256 signed with a public key, and a
key of another algorithm are refused; the signing keys file is checked as GoTrue checks it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import pickle

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from localbase.security import jwt, signing_keys
from localbase.security.signing_keys import KeyRing, SigningKeyError

SECRET = "s" * 40
CLAIMS = {"sub": "u1", "role": "authenticated"}


@pytest.fixture(scope="module")
def es():
    return signing_keys.generate("ES256")


@pytest.fixture(scope="module")
def rs():
    return signing_keys.generate("RS256")


@pytest.fixture(scope="module")
def ring(es, rs):
    return KeyRing(SECRET, signing_keys.parse(json.dumps(signing_keys.rotated([rs], es))))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hs256(key: bytes, header: dict) -> str:
    head, body = _b64(json.dumps(header).encode()), _b64(json.dumps(CLAIMS).encode())
    return f"{head}.{body}.{_b64(hmac.new(key, f'{head}.{body}'.encode(), hashlib.sha256).digest())}"


def test_the_current_key_signs_and_every_key_verifies(ring, es, rs):
    token = jwt.sign(CLAIMS, ring)
    assert pyjwt.get_unverified_header(token) == {"alg": "ES256", "kid": es["kid"], "typ": "JWT"}
    assert jwt.verify(token, ring) == CLAIMS
    old = pyjwt.encode(CLAIMS, pyjwt.PyJWK(rs).key, algorithm="RS256", headers={"kid": rs["kid"]})
    assert jwt.verify(old, ring) == CLAIMS  # rotated out of signing, still verifying
    assert jwt.verify(jwt.sign(CLAIMS, SECRET), ring) == CLAIMS  # the shared secret too
    no_kid = pyjwt.encode(CLAIMS, pyjwt.PyJWK(es).key, algorithm="ES256")
    assert jwt.verify(no_kid, ring) == CLAIMS


def test_keys_survive_pickling_as_to_a_spawned_worker(ring):
    """--workers N pickles the settings (and their keys) to each worker process."""
    copy = pickle.loads(pickle.dumps(ring.keys))
    assert [(k.kid, k.alg, k.signs, k.public_jwk()) for k in copy] == \
        [(k.kid, k.alg, k.signs, k.public_jwk()) for k in ring.keys]
    signed_there = jwt.sign(CLAIMS, KeyRing(SECRET, copy))
    assert jwt.verify(signed_there, ring) == CLAIMS and jwt.verify(jwt.sign(CLAIMS, ring), KeyRing(SECRET, copy))


def test_a_ring_without_asymmetric_keys_signs_hs256():
    token = jwt.sign(CLAIMS, KeyRing(SECRET))
    assert pyjwt.get_unverified_header(token)["alg"] == "HS256"
    assert jwt.verify(token, SECRET) == CLAIMS


def test_algorithm_pinning(ring, es, rs):
    public_pem = pyjwt.PyJWK({k: v for k, v in es.items() if k != "d"}).key.public_bytes(
        Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    refused = {
        "alg none": pyjwt.encode(CLAIMS, None, algorithm="none", headers={"kid": es["kid"]}),
        "HS256 keyed with the public key": _hs256(public_pem, {"alg": "HS256", "typ": "JWT", "kid": es["kid"]}),
        "RS256 header naming the EC key": pyjwt.encode(CLAIMS, pyjwt.PyJWK(rs).key, algorithm="RS256",
                                                       headers={"kid": es["kid"]}),
        "ES384 header": _hs256(b"x", {"alg": "ES384", "kid": es["kid"]}),
        "unknown kid": pyjwt.encode(CLAIMS, pyjwt.PyJWK(es).key, algorithm="ES256", headers={"kid": "nope"}),
        "another key under this kid": pyjwt.encode(CLAIMS, pyjwt.PyJWK(signing_keys.generate()).key,
                                                   algorithm="ES256", headers={"kid": es["kid"]}),
    }
    reasons = {}
    for name, token in refused.items():
        with pytest.raises(jwt.JWTError) as info:
            jwt.verify(token, ring)
        reasons[name] = info.value.reason
    assert reasons["unknown kid"] == "No suitable key or wrong key type"
    assert reasons["another key under this kid"] == "JWT cryptographic operation failed"
    assert reasons["alg none"] == "Wrong or unsupported encoding algorithm"
    with pytest.raises(jwt.JWTError, match="Wrong or unsupported"):  # a bare secret takes HS256 only
        jwt.verify(jwt.sign(CLAIMS, ring), SECRET)


@pytest.mark.parametrize("mutate, message", [
    (lambda ks: ks + [{**ks[0], "kid": "second"}], "exactly one key"),
    (lambda ks: [{k: v for k, v in ks[0].items() if k != "d"}], "private part is missing"),
    (lambda ks: [{**ks[0], "alg": "HS256"}], "alg must be one of"),
    (lambda ks: [{**ks[0], "alg": "RS256"}], "kty RSA"),
    (lambda ks: [{k: v for k, v in ks[0].items() if k != "kid"}], "a kid is required"),
    (lambda ks: [{**ks[0], "x": "AAAA"}], "not a usable ES256 key"),
    (lambda ks: [], "non-empty array"),
])
def test_unusable_key_files_are_refused(es, mutate, message):
    with pytest.raises(SigningKeyError, match=message):
        signing_keys.parse(json.dumps(mutate([es])))
    with pytest.raises(SigningKeyError, match="not JSON"):
        signing_keys.parse("{")


def test_one_key_without_key_ops_signs(es):
    bare = {k: v for k, v in es.items() if k != "key_ops"}
    (key,) = signing_keys.parse(json.dumps({"keys": [bare]}))
    assert key.signs and key.kid == es["kid"]
