-- uuid-ossp 1.1, in SQL (Localbase): the functions and results of PostgreSQL's uuid-ossp module.
-- v3 and v5 are exact (MD5 / SHA-1 of the namespace and name, RFC 4122); v4 is PostgreSQL's own
-- gen_random_uuid(); v1 is a time-based UUID whose node is random with the multicast bit set (as
-- v1mc): SQL cannot read the machine's MAC address.

\echo Use "CREATE EXTENSION ""uuid-ossp""" to load this file. \quit

create function @extschema@.uuid_nil() returns uuid language sql immutable parallel safe strict
  as $$ select '00000000-0000-0000-0000-000000000000'::uuid $$;
create function @extschema@.uuid_ns_dns() returns uuid language sql immutable parallel safe strict
  as $$ select '6ba7b810-9dad-11d1-80b4-00c04fd430c8'::uuid $$;
create function @extschema@.uuid_ns_url() returns uuid language sql immutable parallel safe strict
  as $$ select '6ba7b811-9dad-11d1-80b4-00c04fd430c8'::uuid $$;
create function @extschema@.uuid_ns_oid() returns uuid language sql immutable parallel safe strict
  as $$ select '6ba7b812-9dad-11d1-80b4-00c04fd430c8'::uuid $$;
create function @extschema@.uuid_ns_x500() returns uuid language sql immutable parallel safe strict
  as $$ select '6ba7b814-9dad-11d1-80b4-00c04fd430c8'::uuid $$;

create function @extschema@.uuid_generate_v4() returns uuid language sql volatile parallel safe strict
  as $$ select pg_catalog.gen_random_uuid() $$;

-- The 16 bytes of a name-based UUID: a digest's first 16 bytes, with version and variant set.
create function @extschema@._uuid_ossp_stamp(digest bytea, version int) returns uuid
language sql immutable parallel safe strict as $$
  select encode(pg_catalog.set_byte(pg_catalog.set_byte(substr(digest, 1, 16), 6,
                  (pg_catalog.get_byte(digest, 6) & 15) | (version << 4)),
                8, (pg_catalog.get_byte(digest, 8) & 63) | 128), 'hex')::uuid
$$;

create function @extschema@.uuid_generate_v3(namespace uuid, name text) returns uuid
language sql immutable parallel safe strict as $$
  select @extschema@._uuid_ossp_stamp(
    pg_catalog.decode(pg_catalog.md5(pg_catalog.uuid_send(namespace) || pg_catalog.convert_to(name, pg_catalog.getdatabaseencoding())), 'hex'),
    3)
$$;

-- SHA-1 (FIPS 180-4): PostgreSQL's core has MD5 and the SHA-2 family only.
create function @extschema@._uuid_ossp_sha1(message bytea) returns bytea
language plpgsql immutable parallel safe strict as $$
declare
  bits int8 := pg_catalog.length(message)::int8 * 8;
  h int8[] := array[1732584193, 4023233417, 2562383102, 271733878, 3285377520];
  w int8[];
  a int8; b int8; c int8; d int8; e int8; f int8; k int8; t int8;
  block int; i int;
  m int8 := 4294967295;
  result bytea := '';
begin
  message := message || '\x80'::bytea;
  while pg_catalog.length(message) % 64 <> 56 loop
    message := message || '\x00'::bytea;
  end loop;
  message := message || pg_catalog.int8send(bits);
  for block in 0 .. pg_catalog.length(message) / 64 - 1 loop
    w := array_fill(0::int8, array[80]);
    for i in 0 .. 15 loop
      w[i + 1] := (pg_catalog.get_byte(message, block * 64 + i * 4)::int8 << 24)
                | (pg_catalog.get_byte(message, block * 64 + i * 4 + 1) << 16)
                | (pg_catalog.get_byte(message, block * 64 + i * 4 + 2) << 8)
                | pg_catalog.get_byte(message, block * 64 + i * 4 + 3);
    end loop;
    for i in 17 .. 80 loop
      t := w[i - 3] # w[i - 8] # w[i - 14] # w[i - 16];
      w[i] := ((t << 1) | (t >> 31)) & m;
    end loop;
    a := h[1]; b := h[2]; c := h[3]; d := h[4]; e := h[5];
    for i in 1 .. 80 loop
      if i <= 20 then
        f := (b & c) | ((~b & m) & d); k := 1518500249;
      elsif i <= 40 then
        f := b # c # d; k := 1859775393;
      elsif i <= 60 then
        f := (b & c) | (b & d) | (c & d); k := 2400959708;
      else
        f := b # c # d; k := 3395469782;
      end if;
      t := ((((a << 5) | (a >> 27)) & m) + f + e + k + w[i]) & m;
      e := d; d := c; c := ((b << 30) | (b >> 2)) & m; b := a; a := t;
    end loop;
    h[1] := (h[1] + a) & m; h[2] := (h[2] + b) & m; h[3] := (h[3] + c) & m;
    h[4] := (h[4] + d) & m; h[5] := (h[5] + e) & m;
  end loop;
  for i in 1 .. 5 loop
    result := result || pg_catalog.substr(pg_catalog.int8send(h[i]), 5, 4);
  end loop;
  return result;
end
$$;

create function @extschema@.uuid_generate_v5(namespace uuid, name text) returns uuid
language sql immutable parallel safe strict as $$
  select @extschema@._uuid_ossp_stamp(
    @extschema@._uuid_ossp_sha1(pg_catalog.uuid_send(namespace) || pg_catalog.convert_to(name, pg_catalog.getdatabaseencoding())),
    5)
$$;

-- Time-based: 100-ns intervals since 1582-10-15, a random clock sequence and a random node whose
-- multicast bit is set (so it can never be a real MAC address).
create function @extschema@.uuid_generate_v1mc() returns uuid language plpgsql volatile parallel safe as $$
declare
  ticks int8 := (extract(epoch from pg_catalog.clock_timestamp()) * 10000000)::int8 + 122192928000000000;
  random bytea := pg_catalog.uuid_send(pg_catalog.gen_random_uuid());
  hex text;
begin
  hex := pg_catalog.lpad(pg_catalog.to_hex(ticks & 4294967295), 8, '0')
      || pg_catalog.lpad(pg_catalog.to_hex((ticks >> 32) & 65535), 4, '0')
      || pg_catalog.lpad(pg_catalog.to_hex(((ticks >> 48) & 4095) | 4096), 4, '0')
      || pg_catalog.lpad(pg_catalog.to_hex((pg_catalog.get_byte(random, 0) & 63) | 128), 2, '0')
      || pg_catalog.lpad(pg_catalog.to_hex(pg_catalog.get_byte(random, 1)), 2, '0')
      || pg_catalog.lpad(pg_catalog.to_hex(pg_catalog.get_byte(random, 2) | 1), 2, '0')
      || pg_catalog.encode(pg_catalog.substr(random, 10, 5), 'hex');
  return hex::uuid;
end
$$;

create function @extschema@.uuid_generate_v1() returns uuid language sql volatile parallel safe
  as $$ select @extschema@.uuid_generate_v1mc() $$;
