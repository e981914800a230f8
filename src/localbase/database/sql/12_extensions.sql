-- Localbase bootstrap: the extensions a Supabase project has from the start, in schema `extensions`
-- (uuid_generate_v4(), crypt()/gen_salt(), digest() ... work in migrations and seeds without a
-- `create extension`, and `create extension if not exists` is a no-op, as on Supabase). On the
-- embedded PostgreSQL they are Localbase's SQL versions (database/pgshare); on a --db-url
-- database the server's own, when it has them.

do $$
declare
  wanted text;
begin
  foreach wanted in array array['uuid-ossp', 'pgcrypto'] loop
    if exists (select 1 from pg_extension where extname = wanted) then
      continue;
    end if;
    if exists (select 1 from pg_available_extensions where name = wanted) then
      execute format('create extension %I with schema extensions', wanted);
    else
      raise notice 'extension % is not available on this server: skipped', wanted;
    end if;
  end loop;
end
$$;
