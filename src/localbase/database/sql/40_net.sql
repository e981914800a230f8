-- Localbase bootstrap, part 4: pg_net (schema net) and Database Webhooks (schema supabase_functions),
-- with pg_net's and Supabase's signatures, so SQL, triggers and migrations written for Supabase work
-- as written. Idempotent; runs at every start as the superuser.
--
-- net.http_get / http_post / http_delete only enqueue a row in net.http_request_queue inside the
-- caller's transaction and return its id: a rolled-back transaction sends nothing. Localbase's
-- sender (localbase/net/sender.py) wakes up on the notification net.wake() sends at commit (and
-- polls), claims queued rows with FOR UPDATE SKIP LOCKED (one sender per request, whatever the
-- number of workers), sends them concurrently with their timeout, and in the same transaction
-- stores each response in net._http_response and deletes the request. Unlike pg_net's unlogged
-- tables, both tables are logged: queued requests survive a crash of PostgreSQL too.

do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'supabase_functions_admin') then
    create role supabase_functions_admin login noinherit createrole noreplication;
  end if;
end
$$;
grant supabase_functions_admin to postgres;

create schema if not exists net authorization supabase_functions_admin;

do $$
begin
  if not exists (select 1 from pg_type t join pg_namespace n on n.oid = t.typnamespace
                 where n.nspname = 'net' and t.typname = 'http_method') then
    create domain net.http_method as text check (value ilike 'get' or value ilike 'post' or value ilike 'delete');
  end if;
  if not exists (select 1 from pg_type t join pg_namespace n on n.oid = t.typnamespace
                 where n.nspname = 'net' and t.typname = 'request_status') then
    create type net.request_status as enum ('PENDING', 'SUCCESS', 'ERROR');
  end if;
  if not exists (select 1 from pg_type t join pg_namespace n on n.oid = t.typnamespace
                 where n.nspname = 'net' and t.typname = 'http_response') then
    create type net.http_response as (status_code integer, headers jsonb, body text);
  end if;
  if not exists (select 1 from pg_type t join pg_namespace n on n.oid = t.typnamespace
                 where n.nspname = 'net' and t.typname = 'http_response_result') then
    create type net.http_response_result as (status net.request_status, message text, response net.http_response);
  end if;
end
$$;

create table if not exists net.http_request_queue (
  id bigserial,
  method net.http_method not null,
  url text not null,
  headers jsonb,
  body bytea,
  timeout_milliseconds int not null
);
create unique index if not exists http_request_queue_id_idx on net.http_request_queue (id);

create table if not exists net._http_response (
  id bigint,
  status_code integer,
  content_type text,
  headers jsonb,
  content text,
  timed_out bool,
  error_msg text,
  created timestamptz not null default now()
);
create index if not exists _http_response_created_idx on net._http_response (created);
create index if not exists _http_response_id_idx on net._http_response (id);

alter table net.http_request_queue owner to supabase_functions_admin;
alter table net._http_response owner to supabase_functions_admin;
alter sequence net.http_request_queue_id_seq owner to supabase_functions_admin;

-- Every function of schema net runs as its owner with search_path net (set below, once for all).

-- pg_net's net.wake() signals its background worker; here, a notification (sent at commit, so
-- never for a rolled-back transaction) on the channel the sender listens to.
create or replace function net.wake()
returns void
language sql
as $$ select pg_notify('localbase_net', '') $$;

-- Percent-encoding of a query-string component (RFC 3986 unreserved characters kept), and a URL
-- with `key=value` pairs appended, as pg_net's C helpers of the same names do.
create or replace function net._urlencode_string(string varchar)
returns text
language sql immutable strict
as $$
  select coalesce(string_agg(
           case when b between 48 and 57 or b between 65 and 90 or b between 97 and 122 or b in (45, 46, 95, 126)
                then chr(b) else '%' || upper(lpad(to_hex(b), 2, '0')) end, '' order by i), '')
    from (select get_byte(convert_to(string, 'UTF8'), i) as b, i
            from generate_series(0, octet_length(convert_to(string, 'UTF8')) - 1) as i) bytes
$$;

create or replace function net._encode_url_with_params_array(url text, params_array text[])
returns text
language sql immutable strict
as $$
  select case when coalesce(array_length(params_array, 1), 0) = 0 then url
              else url || case when position('?' in url) > 0 then '&' else '?' end
                       || array_to_string(params_array, '&') end
$$;

create or replace function net._query_params(params jsonb)
returns text[]
language sql immutable
as $$
  select coalesce(array_agg(net._urlencode_string(key) || '=' || net._urlencode_string(value)), '{}')
    from jsonb_each_text(coalesce(params, '{}'::jsonb))
$$;

-- One queued request (what the three public functions share); returns its id.
create or replace function net._enqueue(method text, url text, params jsonb, headers jsonb, body bytea,
                                        timeout_milliseconds int)
returns bigint
language plpgsql
as $$
declare
  request_id bigint;
begin
  insert into net.http_request_queue (method, url, headers, body, timeout_milliseconds)
  values (method, net._encode_url_with_params_array(url, net._query_params(params)), headers, body,
          timeout_milliseconds)
  returning id into request_id;
  perform net.wake();
  return request_id;
end
$$;

create or replace function net.http_get(
  url text,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{}'::jsonb,
  timeout_milliseconds int default 5000
)
returns bigint
language plpgsql
as $$
begin
  return net._enqueue('GET', url, params, headers, null, timeout_milliseconds);
end
$$;

create or replace function net.http_post(
  url text,
  body jsonb default '{}'::jsonb,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{"Content-Type": "application/json"}'::jsonb,
  timeout_milliseconds int default 5000
)
returns bigint
language plpgsql
as $$
declare
  content_type text;
begin
  select value into content_type from jsonb_each_text(coalesce(headers, '{}'::jsonb))
   where lower(key) = 'content-type' limit 1;
  if content_type is null then
    headers := coalesce(headers, '{}'::jsonb) || '{"Content-Type": "application/json"}'::jsonb;
  elsif content_type <> 'application/json' then
    raise exception 'Content-Type header must be "application/json"';
  end if;
  return net._enqueue('POST', url, params, headers, convert_to(body::text, 'UTF8'), timeout_milliseconds);
end
$$;

create or replace function net.http_delete(
  url text,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{}'::jsonb,
  timeout_milliseconds int default 5000,
  body jsonb default null
)
returns bigint
language plpgsql
as $$
begin
  return net._enqueue('DELETE', url, params, headers, convert_to(body::text, 'UTF8'), timeout_milliseconds);
end
$$;

-- Waiting for and reading a response, as pg_net offers them.
create or replace function net._await_response(request_id bigint)
returns bool
language plpgsql
as $$
begin
  while not exists (select 1 from net._http_response r where r.id = request_id) loop
    perform pg_sleep(0.05);
  end loop;
  return true;
end
$$;

create or replace function net._http_collect_response(request_id bigint, async bool default true)
returns net.http_response_result
language plpgsql
as $$
declare
  rec net._http_response;
begin
  if not async then
    perform net._await_response(request_id);
  end if;
  select * into rec from net._http_response r where r.id = request_id;
  if rec is null or rec.error_msg is not null then
    return ('ERROR', coalesce(rec.error_msg, 'request matching request_id not found'), null)::net.http_response_result;
  end if;
  return ('SUCCESS', 'ok', (rec.status_code, rec.headers, rec.content)::net.http_response)::net.http_response_result;
end
$$;

create or replace function net.http_collect_response(request_id bigint, async bool default true)
returns net.http_response_result
language plpgsql
as $$
begin
  raise notice 'The net.http_collect_response function is deprecated.';
  return net._http_collect_response(request_id, async);
end
$$;

-- Raises unless a Localbase sender is connected (pg_net checks for its background worker).
create or replace function net.check_worker_is_up()
returns void
language plpgsql
as $$
begin
  if not exists (select 1 from pg_stat_activity where application_name = 'localbase-net') then
    raise exception using message = 'the pg_net background worker is not up',
      detail = 'no Localbase sender is connected to this database',
      hint = 'start Localbase, or check [net] enabled in supabase/localbase.toml';
  end if;
end
$$;

do $$
declare
  f regprocedure;
begin
  for f in select p.oid::regprocedure from pg_proc p join pg_namespace n on n.oid = p.pronamespace
            where n.nspname = 'net' loop
    execute format('alter function %s owner to supabase_functions_admin', f);
    -- as Supabase makes pg_net's functions: they run as their owner (who owns the queue)
    execute format('alter function %s security definer set search_path = net', f);
    execute format('revoke all on function %s from public', f);
  end loop;
end
$$;

-- Who may use it: the database's owner roles and the service role (the trigger function below
-- runs as its owner, so a webhook fires whoever's write triggers it). anon and authenticated get
-- nothing by default; a project that wants them to call net.* grants it in a migration.
revoke all on schema net from public;
grant usage on schema net to postgres, service_role, supabase_functions_admin;
grant execute on function net.http_get(text, jsonb, jsonb, int), net.http_post(text, jsonb, jsonb, jsonb, int),
  net.http_delete(text, jsonb, jsonb, int, jsonb), net._http_collect_response(bigint, bool),
  net.http_collect_response(bigint, bool), net.check_worker_is_up(), net.wake()
  to postgres, service_role, supabase_functions_admin;
revoke all on net.http_request_queue, net._http_response from public;
grant select on net.http_request_queue, net._http_response to postgres, service_role;

-- Database Webhooks, as the Supabase dashboard creates them: a row trigger
--   execute function supabase_functions.http_request('<url>', 'POST', '<headers json>', '<params json>', '<timeout ms>')
-- posts {type, table, schema, record, old_record} (GET sends no body), and records the call in
-- supabase_functions.hooks.
create schema if not exists supabase_functions authorization supabase_functions_admin;
grant usage on schema supabase_functions to postgres, anon, authenticated, service_role;

create table if not exists supabase_functions.migrations (
  version text primary key,
  inserted_at timestamptz not null default now()
);
insert into supabase_functions.migrations (version) values ('initial') on conflict do nothing;

create table if not exists supabase_functions.hooks (
  id bigserial primary key,
  hook_table_id integer not null,
  hook_name text not null,
  created_at timestamptz not null default now(),
  request_id bigint
);
create index if not exists supabase_functions_hooks_request_id_idx on supabase_functions.hooks using btree (request_id);
create index if not exists supabase_functions_hooks_h_table_id_h_name_idx
  on supabase_functions.hooks using btree (hook_table_id, hook_name);
comment on table supabase_functions.hooks is 'Supabase Functions Hooks: Audit trail for triggered hooks.';
alter table supabase_functions.migrations owner to supabase_functions_admin;
alter table supabase_functions.hooks owner to supabase_functions_admin;

create or replace function supabase_functions.http_request()
returns trigger
language plpgsql
security definer
set search_path = supabase_functions
as $$
declare
  request_id bigint;
  payload jsonb;
  url text := tg_argv[0]::text;
  method text := tg_argv[1]::text;
  headers jsonb default '{}'::jsonb;
  params jsonb default '{}'::jsonb;
  timeout_ms integer default 1000;
begin
  if url is null or url = 'null' then
    raise exception 'url argument is missing';
  end if;
  if method is null or method = 'null' then
    raise exception 'method argument is missing';
  end if;
  if tg_argv[2] is null or tg_argv[2] = 'null' then
    headers := '{"Content-Type": "application/json"}'::jsonb;
  else
    headers := tg_argv[2]::jsonb;
  end if;
  if tg_argv[3] is null or tg_argv[3] = 'null' then
    params := '{}'::jsonb;
  else
    params := tg_argv[3]::jsonb;
  end if;
  if tg_argv[4] is null or tg_argv[4] = 'null' then
    timeout_ms := 1000;
  else
    timeout_ms := tg_argv[4]::integer;
  end if;
  case
    when method = 'GET' then
      select http_get into request_id from net.http_get(url, params, headers, timeout_ms);
    when method = 'POST' then
      payload := jsonb_build_object('old_record', old, 'record', new, 'type', tg_op,
                                    'table', tg_table_name, 'schema', tg_table_schema);
      select http_post into request_id from net.http_post(url, payload, params, headers, timeout_ms);
    else
      raise exception 'method argument % is invalid', method;
  end case;
  insert into supabase_functions.hooks (hook_table_id, hook_name, request_id) values (tg_relid, tg_name, request_id);
  return new;
end
$$;
alter function supabase_functions.http_request() owner to supabase_functions_admin;
revoke all on function supabase_functions.http_request() from public;
grant execute on function supabase_functions.http_request() to postgres, anon, authenticated, service_role;
