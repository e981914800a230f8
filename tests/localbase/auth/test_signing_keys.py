"""Asymmetric JWT signing keys ([auth] signing_keys_path, a JWK set as `supabase gen signing-key`
writes it): tokens signed with the current key and its kid, /.well-known/jwks.json publishing the
public keys, supabase-py's get_claims() verifying locally from them, REST / Realtime / Functions
verifying them, and a rotation in which the old key keeps verifying."""

from __future__ import annotations

import asyncio
import atexit
import json
import shutil
import tempfile
import uuid
from pathlib import Path

import httpx
import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from supabase_auth.errors import AuthInvalidJwtError

from localbase.security import signing_keys
from localbase.testing.plugin import localbase_fixture, worker_args
from localbase.testing.server import LocalbaseProcess
from supabase import AsyncClientOptions, ClientOptions, acreate_client, create_client

PROJECT = Path(__file__).parents[1] / "project"  # REST fixtures (notes with RLS, whoami) and functions
PASSWORD = "correct-horse-1"


def project_with_keys(folder: Path, keys: list[dict]) -> Path:
    shutil.copytree(PROJECT, folder)
    text = (folder / "supabase" / "config.toml").read_text().replace(
        "[auth]\n", '[auth]\nsigning_keys_path = "./signing_keys.json"\n', 1)
    (folder / "supabase" / "config.toml").write_text(text)
    write_keys(folder, keys)
    return folder


def write_keys(folder: Path, keys: list[dict]) -> None:
    (folder / "supabase" / "signing_keys.json").write_text(json.dumps(keys))


def client(server, **options):
    return create_client(server.url, server.anon_key,
                         options=ClientOptions(auto_refresh_token=False, persist_session=False, **options))


def signed_up(server):
    c = client(server)
    session = c.auth.sign_up({"email": f"sk-{uuid.uuid4().hex[:8]}@example.com", "password": PASSWORD}).session
    assert session is not None
    return c, session


ES256_KEY = signing_keys.generate("ES256")
_KEY_FILE = Path(tempfile.mkdtemp(prefix="lb-signing-")) / "signing_keys.json"
_KEY_FILE.write_text(json.dumps([ES256_KEY]))
atexit.register(shutil.rmtree, _KEY_FILE.parent, True)
# the test project, its keys named by the environment (as [auth] signing_keys_path would)
es256_server = localbase_fixture(PROJECT, scope="module", env={"LOCALBASE_AUTH_SIGNING_KEYS_PATH": str(_KEY_FILE)})


@pytest.fixture(scope="module")
def es256_key():
    return ES256_KEY


def test_tokens_are_signed_with_the_current_key_and_its_kid(es256_server, es256_key):
    _, session = signed_up(es256_server)
    header = pyjwt.get_unverified_header(session.access_token)
    assert (header["alg"], header["kid"]) == ("ES256", es256_key["kid"])
    public = pyjwt.PyJWK({k: v for k, v in es256_key.items() if k != "d"}).key
    claims = pyjwt.decode(session.access_token, public, algorithms=["ES256"], audience="authenticated")
    assert claims["sub"] == session.user.id and claims["role"] == "authenticated"


def test_jwks_publishes_the_public_keys_only(es256_server, es256_key):
    r = httpx.get(f"{es256_server.url}/auth/v1/.well-known/jwks.json")  # public, as on Supabase
    assert r.status_code == 200
    (key,) = r.json()["keys"]
    assert (key["kid"], key["alg"], key["kty"], key["crv"]) == (es256_key["kid"], "ES256", "EC", "P-256")
    assert (key["x"], key["y"]) == (es256_key["x"], es256_key["y"])
    assert "d" not in key and key["key_ops"] == ["verify"] and key["use"] == "sig"


def test_get_claims_verifies_locally_from_the_jwks(es256_server, monkeypatch):
    c, session = signed_up(es256_server)

    def no_round_trip(*_args, **_kwargs):
        raise AssertionError("get_claims() of an asymmetric token must not call GET /user")

    monkeypatch.setattr(c.auth, "get_user", no_round_trip)
    claims = c.auth.get_claims()["claims"]
    assert claims["sub"] == session.user.id and claims["email"] == session.user.email
    # a token signed by another key under the same kid fails the local check
    impostor = signing_keys.generate("ES256")
    forged = pyjwt.encode({**claims}, pyjwt.PyJWK(impostor).key, algorithm="ES256",
                          headers={"kid": pyjwt.get_unverified_header(session.access_token)["kid"]})
    with pytest.raises(AuthInvalidJwtError, match="Invalid JWT signature"):
        c.auth.get_claims(forged)


def test_rest_realtime_and_functions_verify_them(es256_server):
    c, session = signed_up(es256_server)
    note = c.table("notes").insert({"body": "signed with ES256"}).execute().data[0]
    assert note["owner_id"] == session.user.id  # auth.uid() from the verified claims
    assert c.table("notes").select("body").execute().data == [{"body": "signed with ES256"}]
    called = c.functions.invoke("whoami", {"body": {"x": 1}})
    caller = json.loads(called)["caller"] if isinstance(called, (bytes, str)) else called["caller"]
    assert caller["uid"] == session.user.id and caller["role"] == "authenticated"

    async def join() -> list:
        rt = await acreate_client(es256_server.url, es256_server.anon_key,
                                  options=AsyncClientOptions(auto_refresh_token=False, persist_session=False))
        try:
            await rt.realtime.set_auth(session.access_token)
            states: list = []
            await rt.channel(f"es-{uuid.uuid4().hex[:6]}").subscribe(lambda s, e: states.append((s, e)))
            for _ in range(100):
                if states:
                    break
                await asyncio.sleep(0.05)
            return states
        finally:
            await rt.realtime.close()

    states = asyncio.run(join())
    assert states and states[-1][0] == "SUBSCRIBED", states


def test_forged_or_confused_tokens_are_refused_everywhere(es256_server, es256_key):
    _, session = signed_up(es256_server)
    claims = pyjwt.decode(session.access_token, options={"verify_signature": False})
    public_pem = pyjwt.PyJWK({k: v for k, v in es256_key.items() if k != "d"}).key.public_bytes(
        Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    confused = _hs256_with_key_bytes(claims, public_pem, es256_key["kid"])
    unsigned = pyjwt.encode(claims, None, algorithm="none", headers={"kid": es256_key["kid"]})
    other = pyjwt.encode(claims, pyjwt.PyJWK(signing_keys.generate("ES256")).key, algorithm="ES256",
                         headers={"kid": "not-a-key-of-this-project"})
    for token in (confused, unsigned, other):
        rest = httpx.get(f"{es256_server.url}/rest/v1/notes", headers={"apikey": es256_server.anon_key,
                                                                       "Authorization": f"Bearer {token}"})
        assert rest.status_code == 401, rest.text
        user = httpx.get(f"{es256_server.url}/auth/v1/user", headers={"apikey": es256_server.anon_key,
                                                                       "Authorization": f"Bearer {token}"})
        assert user.status_code == 403, user.text


def _hs256_with_key_bytes(claims: dict, key: bytes, kid: str) -> str:
    """An HS256 token whose HMAC key is the public key's PEM (the RS/HS confusion attack)."""
    import base64
    import hashlib
    import hmac

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    body = b64(json.dumps(claims).encode())
    sig = b64(hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest())
    return f"{head}.{body}.{sig}"


def test_rotation_keeps_the_old_key_verifying(tmp_path):
    """ES256 signs; then an RS256 key is added to sign (`localbase gen signing-key --append`), the
    ES256 key only verifying: tokens signed before the restart keep working, new ones are RS256."""
    old = signing_keys.generate("ES256")
    folder = project_with_keys(tmp_path / "project", [old])
    server = LocalbaseProcess(folder, tmp_path / "data", extra_args=worker_args())
    try:
        server.start()
        c, before = signed_up(server)
        server.stop()
        new = signing_keys.generate("RS256")
        write_keys(folder, signing_keys.rotated([old], new))
        server.start()
        assert c.auth.get_user(before.access_token).user.id == before.user.id
        c.postgrest.auth(before.access_token)
        assert c.table("notes").select("id").execute().data == []
        after = c.auth.sign_in_with_password({"email": before.user.email, "password": PASSWORD}).session
        header = pyjwt.get_unverified_header(after.access_token)
        assert (header["alg"], header["kid"]) == ("RS256", new["kid"])
        kids = {k["kid"]: k["alg"] for k in httpx.get(f"{server.url}/auth/v1/.well-known/jwks.json").json()["keys"]}
        assert kids == {new["kid"]: "RS256", old["kid"]: "ES256"}
        assert c.auth.get_claims(after.access_token)["claims"]["sub"] == before.user.id
    finally:
        server.cleanup()
