-- Localbase bootstrap: schema storage as Supabase Storage has it (buckets, objects, the helpers
-- storage.foldername() / filename() / extension() / search()), so policies written for Supabase
-- ("users manage files in a folder named by their uid", ...) work unchanged in migrations.
-- RLS is on for both tables; the API roles have Supabase's grants, policies decide the rows.

do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'supabase_storage_admin') then
    create role supabase_storage_admin nologin noinherit createrole;
  end if;
end
$$;

create schema if not exists storage authorization supabase_storage_admin;
grant usage on schema storage to postgres, anon, authenticated, service_role;
grant all on schema storage to supabase_storage_admin;

do $$
begin
  if not exists (select 1 from pg_type t join pg_namespace n on n.oid = t.typnamespace
                 where n.nspname = 'storage' and t.typname = 'buckettype') then
    create type storage.buckettype as enum ('STANDARD', 'ANALYTICS', 'VECTOR');
  end if;
end
$$;

create table if not exists storage.buckets (
  id text not null primary key,
  name text not null,
  owner uuid,
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  public boolean default false,
  avif_autodetection boolean default false,
  file_size_limit bigint,
  allowed_mime_types text[],
  owner_id text,
  type storage.buckettype not null default 'STANDARD'
);
create unique index if not exists bname on storage.buckets using btree (name);
comment on column storage.buckets.owner is 'Field is deprecated, use owner_id instead';

create table if not exists storage.objects (
  id uuid not null default gen_random_uuid() primary key,
  bucket_id text references storage.buckets (id),
  name text,
  owner uuid,
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  last_accessed_at timestamptz default now(),
  metadata jsonb,
  path_tokens text[] generated always as (string_to_array(name, '/')) stored,
  version text,
  owner_id text,
  user_metadata jsonb
);
create unique index if not exists bucketid_objname on storage.objects using btree (bucket_id, name);
create index if not exists name_prefix_search on storage.objects (name text_pattern_ops);
-- Localbase's own: listing a folder seeks by lowercase name (storage.search below), and the
-- orphan sweep looks stored files up by version.
create index if not exists localbase_objects_bucket_lower_name on storage.objects (bucket_id, (lower(name) collate "C"));
create index if not exists localbase_objects_version on storage.objects (version);
comment on column storage.objects.owner is 'Field is deprecated, use owner_id instead';

alter table storage.buckets enable row level security;
alter table storage.objects enable row level security;
alter table storage.buckets owner to supabase_storage_admin;
alter table storage.objects owner to supabase_storage_admin;

grant all on storage.buckets, storage.objects to postgres with grant option;
grant all on storage.buckets, storage.objects to anon, authenticated, service_role;
alter default privileges for role postgres in schema storage grant all on tables to anon, authenticated, service_role;
alter default privileges for role postgres in schema storage grant all on functions to anon, authenticated, service_role;
alter default privileges for role postgres in schema storage grant all on sequences to anon, authenticated, service_role;

-- Supabase's path helpers (same results as its plpgsql versions, as plain SQL).
create or replace function storage.foldername(name text) returns text[]
language sql immutable
as $function$ select (string_to_array(name, '/'))[1:array_length(string_to_array(name, '/'), 1) - 1] $function$;

create or replace function storage.filename(name text) returns text
language sql immutable
as $function$ select (string_to_array(name, '/'))[array_length(string_to_array(name, '/'), 1)] $function$;

create or replace function storage.extension(name text) returns text
language sql immutable
as $function$ select reverse(split_part(reverse(storage.filename(name)), '.', 1)) $function$;

-- One level of a bucket below `prefix`: the "folders" (id null) and the objects there, names
-- relative to the prefix; `search` narrows the names (case-insensitive prefix, as Storage).
-- SECURITY INVOKER: the caller's RLS on storage.objects decides what is listed.
create or replace function storage.search(prefix text, bucketname text, limits int default 100, levels int default 1,
                                          offsets int default 0, search text default '',
                                          sortcolumn text default 'name', sortorder text default 'asc')
returns table (name text, id uuid, updated_at timestamptz, created_at timestamptz,
               last_accessed_at timestamptz, metadata jsonb)
language sql stable security invoker
as $function$
  with params as (
    select coalesce(prefix, '') as p,
           lower(coalesce(prefix, '') || coalesce(search, '')) collate "C" as lp,
           lower(coalesce(sortcolumn, 'name')) as col,
           lower(coalesce(sortorder, 'asc')) <> 'desc' as up
  ), matched as (
    select substr(o.name, length(params.p) + 1) as rest, o.id, o.updated_at, o.created_at,
           o.last_accessed_at, o.metadata
    from storage.objects o, params
    where o.bucket_id = bucketname
      and lower(o.name) collate "C" >= params.lp
      and (params.lp = '' or lower(o.name) collate "C" < params.lp || chr(1114111))
  ), entries as (
    select split_part(m.rest, '/', 1) as name, null::uuid as id, null::timestamptz as updated_at,
           null::timestamptz as created_at, null::timestamptz as last_accessed_at, null::jsonb as metadata
    from matched m where strpos(m.rest, '/') > 0 group by 1
    union all
    select m.rest, m.id, m.updated_at, m.created_at, m.last_accessed_at, m.metadata
    from matched m where strpos(m.rest, '/') = 0
  )
  select e.name, e.id, e.updated_at, e.created_at, e.last_accessed_at, e.metadata
  from entries e, params
  order by
    case when params.col <> 'name' then e.id is null end desc,
    case when params.col = 'name' and params.up then lower(e.name) collate "C" end asc,
    case when params.col = 'name' and not params.up then lower(e.name) collate "C" end desc,
    case when params.col = 'updated_at' and params.up then e.updated_at end asc,
    case when params.col = 'updated_at' and not params.up then e.updated_at end desc,
    case when params.col = 'created_at' and params.up then e.created_at end asc,
    case when params.col = 'created_at' and not params.up then e.created_at end desc,
    case when params.col = 'last_accessed_at' and params.up then e.last_accessed_at end asc,
    case when params.col = 'last_accessed_at' and not params.up then e.last_accessed_at end desc,
    lower(e.name) collate "C"
  limit least(greatest(coalesce(limits, 100), 0), 1500) offset greatest(coalesce(offsets, 0), 0)
$function$;

create or replace function storage.update_updated_at_column() returns trigger
language plpgsql as $function$ begin new.updated_at = now(); return new; end $function$;

-- As Supabase: rows of storage tables are deleted through the Storage API only (which removes the
-- files with them); a direct DELETE is refused unless storage.allow_delete_query is 'true'.
create or replace function storage.protect_delete() returns trigger
language plpgsql
as $function$
begin
  if coalesce(current_setting('storage.allow_delete_query', true), 'false') != 'true' then
    raise exception 'Direct deletion from storage tables is not allowed. Use the Storage API instead.'
      using hint = 'This prevents accidental data loss from orphaned objects.', errcode = '42501';
  end if;
  return null;
end
$function$;

drop trigger if exists update_objects_updated_at on storage.objects;
drop trigger if exists protect_buckets_delete on storage.buckets;
drop trigger if exists protect_objects_delete on storage.objects;
create trigger update_objects_updated_at before update on storage.objects
  for each row execute function storage.update_updated_at_column();
create trigger protect_buckets_delete before delete on storage.buckets
  for each statement execute function storage.protect_delete();
create trigger protect_objects_delete before delete on storage.objects
  for each statement execute function storage.protect_delete();

-- Localbase's own: a bucket's upload limits, read inside the uploader's transaction (Storage reads
-- them on its own authority, whatever the caller may see of storage.buckets). Limits only: no
-- bucket is listed through it.
create or replace function storage.localbase_bucket_limits(bucket text)
returns table (file_size_limit bigint, allowed_mime_types text[], public boolean)
language sql stable security definer set search_path = ''
as $function$
  select b.file_size_limit, b.allowed_mime_types, coalesce(b.public, false) from storage.buckets b where b.id = bucket
$function$;
alter function storage.localbase_bucket_limits(text) owner to supabase_storage_admin;

alter function storage.foldername(text) owner to supabase_storage_admin;
alter function storage.filename(text) owner to supabase_storage_admin;
alter function storage.extension(text) owner to supabase_storage_admin;
alter function storage.search(text, text, int, int, int, text, text, text) owner to supabase_storage_admin;
grant execute on all functions in schema storage to postgres, anon, authenticated, service_role;
