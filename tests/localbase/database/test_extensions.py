"""The extensions a Supabase project has from the start: uuid-ossp and pgcrypto in schema `extensions`,
on the embedded PostgreSQL whose build lacks them (Localbase's SQL versions, database/pgshare).
A project written for Supabase - `create extension if not exists` in a migration (with and without a
schema), unqualified calls, a seed creating auth users with crypt(..., gen_salt('bf')) - runs as is,
and the functions give what PostgreSQL's own modules give."""

from __future__ import annotations

import hashlib
import hmac
import uuid

import bcrypt
import pytest

from localbase.testing.server import LocalbaseProcess
from tests.localbase.helpers import client_for, sql

MIGRATION = """
create extension if not exists "uuid-ossp" with schema extensions;
create extension if not exists pgcrypto;
create table tokens (id uuid primary key default uuid_generate_v4(), label text not null);
create function hash_it(t text) returns text language sql stable as $$ select encode(digest(t, 'sha256'), 'hex') $$;
create function named_id(name text) returns uuid language sql immutable as $$
  select uuid_generate_v5(uuid_ns_url(), name)
$$;
"""
SEED = """
insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
                        raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
values ('00000000-0000-0000-0000-000000000000', 'b0e0f3c2-6a0c-4b46-9a55-0d4c2a5f7e11', 'authenticated',
        'authenticated', 'seeded@example.com', crypt('seed-pass-1', gen_salt('bf')), now(),
        '{"provider":"email","providers":["email"]}', '{}', now(), now());
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    project = tmp_path_factory.mktemp("extensions-project")
    (project / "supabase" / "migrations").mkdir(parents=True)
    (project / "supabase" / "migrations" / "20250101000000_extensions.sql").write_text(MIGRATION)
    (project / "supabase" / "seed.sql").write_text(SEED)
    process = LocalbaseProcess(project)
    try:
        process.start(timeout=120)
        yield process
    finally:
        process.cleanup()


def one(server, query: str, *args):
    return sql(server, query, *args)[0][0]


def test_a_seed_hashes_passwords_with_crypt_and_the_user_signs_in(server):
    stored = one(server, "select encrypted_password from auth.users where email = 'seeded@example.com'")
    assert stored.startswith("$2a$06$") and bcrypt.checkpw(b"seed-pass-1", stored.encode())
    session = client_for(server).auth.sign_in_with_password({"email": "seeded@example.com",
                                                             "password": "seed-pass-1"})
    assert session.user.id == "b0e0f3c2-6a0c-4b46-9a55-0d4c2a5f7e11"


def test_defaults_and_functions_call_the_extensions_unqualified(server):
    supabase = client_for(server, server.service_role_key)
    row = supabase.table("tokens").insert({"label": "a"}).execute().data[0]
    assert uuid.UUID(row["id"]).version == 4
    assert supabase.rpc("hash_it", {"t": "abc"}).execute().data == hashlib.sha256(b"abc").hexdigest()
    assert supabase.rpc("named_id", {"name": "https://supabase.com"}).execute().data == \
        str(uuid.uuid5(uuid.NAMESPACE_URL, "https://supabase.com"))


def test_they_live_in_schema_extensions(server):
    rows = sql(server, "select e.extname, n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace "
                       "where e.extname in ('uuid-ossp', 'pgcrypto') order by 1")
    assert [tuple(r) for r in rows] == [("pgcrypto", "extensions"), ("uuid-ossp", "extensions")]


def test_uuid_ossp_gives_what_the_module_gives(server):
    name = "http://www.postgresql.org"
    assert one(server, "select extensions.uuid_generate_v3(extensions.uuid_ns_url(), $1)", name) == \
        uuid.uuid3(uuid.NAMESPACE_URL, name)
    assert one(server, "select extensions.uuid_generate_v5(extensions.uuid_ns_dns(), 'ünïcode.example')") == \
        uuid.uuid5(uuid.NAMESPACE_DNS, "ünïcode.example")
    assert str(one(server, "select extensions.uuid_nil()")) == "00000000-0000-0000-0000-000000000000"
    first, second = (one(server, "select extensions.uuid_generate_v1()") for _ in range(2))
    assert first.version == 1 and first != second and first.time <= second.time
    assert one(server, "select extensions.uuid_generate_v1mc()").version == 1


@pytest.mark.parametrize("algorithm", ["md5", "sha1", "sha224", "sha256", "sha384", "sha512"])
def test_digest_and_hmac_give_what_openssl_gives(server, algorithm):
    data = "the quick brown fox ü" * 7  # several SHA-1 blocks, non-ASCII text
    assert one(server, "select extensions.digest($1, $2)", data, algorithm) == \
        hashlib.new(algorithm, data.encode()).digest()
    for key in ("key", "k" * 200):  # a key longer than the block is hashed first
        assert one(server, "select extensions.hmac($1, $2, $3)", data, key, algorithm) == \
            hmac.new(key.encode(), data.encode(), algorithm).digest()


def test_crypt_and_gen_salt(server):
    salt = one(server, "select extensions.gen_salt('bf', 4)")
    assert salt.startswith("$2a$04$") and len(salt) == 29
    hashed = one(server, "select extensions.crypt('sécret', $1)", salt)
    assert bcrypt.checkpw("sécret".encode(), hashed.encode())
    # verifying in SQL a hash made elsewhere (GoTrue's $2a$, Python's $2b$)
    for made in (bcrypt.hashpw(b"pw-1", bcrypt.gensalt(4, prefix=b"2a")), bcrypt.hashpw(b"pw-1", bcrypt.gensalt(4))):
        assert one(server, "select extensions.crypt('pw-1', $1) = $1", made.decode())
        assert not one(server, "select extensions.crypt('pw-2', $1) = $1", made.decode())
    # MD5-crypt, checked against a published vector (openssl passwd -1 -salt saltsalt password)
    assert one(server, "select extensions.crypt('password', '$1$saltsalt')") == "$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/"
    assert one(server, "select extensions.gen_salt('md5')").startswith("$1$")
    assert len(one(server, "select extensions.gen_random_bytes(40)")) == 40
    with pytest.raises(Exception, match="Unknown salt algorithm"):
        one(server, "select extensions.gen_salt('nope')")
