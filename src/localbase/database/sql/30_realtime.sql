-- Localbase bootstrap, part 3: Realtime. Idempotent; runs at every start as the superuser.
--
-- Realtime connects as `supabase_realtime_admin` (REPLICATION, member of anon / authenticated /
-- service_role, NOINHERIT). It reads committed changes of the tables in publication
-- `supabase_realtime` from a logical replication slot (pgoutput), and asks PostgreSQL, with the
-- functions below, whether each subscriber's role and JWT claims may SELECT the changed row.
-- Python never decides visibility: it only passes the row image and the subscriber's role/claims.

create schema if not exists realtime;
grant usage on schema realtime to supabase_realtime_admin;
revoke all on schema realtime from public;

-- Where each postgres_changes subscription stands in the change stream, so that a subscriber
-- that reconnects within the retention window gets what it missed (see docs/realtime.md).
-- (lsn, seq): the commit LSN of a transaction and the index of a row change inside it.
create table if not exists realtime.subscription_positions (
  id uuid primary key,
  key text not null,
  lsn pg_lsn not null,
  seq integer not null,
  connected boolean not null,
  updated_at timestamptz not null default now()
);
create index if not exists subscription_positions_key_idx
  on realtime.subscription_positions (key, lsn, seq) where not connected;
-- With several API workers, each reads its own slot; `owner` names the slot of the worker a
-- connected subscription is on (a worker that restarts releases only its own).
alter table realtime.subscription_positions add column if not exists owner text not null default '';
alter table realtime.subscription_positions owner to supabase_realtime_admin;

-- The SELECT predicate PostgreSQL's row-level security applies to `p_role` on table `p_relid`,
-- as SQL text over the table's columns: 'false' without any SELECT privilege, 'true' when RLS
-- does not apply (RLS off, BYPASSRLS/superuser, owner without FORCE), otherwise
-- (permissive policies OR-ed) AND (restrictive policies AND-ed), for the policies that apply to
-- SELECT (FOR SELECT / FOR ALL) and to the role (PUBLIC, or a role it has the privileges of),
-- exactly as PostgreSQL combines them. The expressions are the policies' own, from the catalog.
create or replace function realtime.select_predicate(p_relid oid, p_role name)
returns text
language plpgsql stable
set search_path = pg_catalog
as $$
declare
  v_class pg_class;
  v_role pg_roles;
  v_permissive text;
  v_restrictive text;
begin
  select * into v_class from pg_class where oid = p_relid;
  select * into v_role from pg_roles where rolname = p_role;
  if v_class.oid is null or v_role.oid is null then
    return 'false';
  end if;
  -- SELECT on the table or on some of its columns (column GRANTs): the row is visible with the
  -- columns the role may read (realtime.visible_columns decides which)
  if not has_any_column_privilege(v_role.oid, p_relid, 'SELECT') then
    return 'false';
  end if;
  if not realtime.rls_applies(p_relid, p_role) then
    return 'true';
  end if;
  select string_agg('(' || pg_get_expr(p.polqual, p.polrelid) || ')', ' or ') filter (where p.polpermissive),
         string_agg('(' || pg_get_expr(p.polqual, p.polrelid) || ')', ' and ') filter (where not p.polpermissive)
    into v_permissive, v_restrictive
    from pg_policy p
   where p.polrelid = p_relid
     and p.polcmd in ('r', '*')
     and p.polqual is not null
     and ('{0}'::oid[] && p.polroles
          or exists (select 1 from unnest(p.polroles) as r(oid) where pg_has_role(v_role.oid, r.oid, 'USAGE')));
  if v_permissive is null then
    return 'false';  -- RLS on and no permissive policy: default deny, as PostgreSQL does
  end if;
  return '(' || v_permissive || ')' || coalesce(' and ' || v_restrictive, '');
end
$$;

-- The rows of a batch, typed, for realtime.visible_each: a temporary table of this session per
-- published table, with the table's columns (no constraints: a key-only old image leaves the
-- others NULL) and the row's index in the batch; (re)made when the table's columns differ from
-- it, emptied by the next batch. Not `on commit delete rows`: PostgreSQL truncates every such
-- table of the session at the commit of any transaction that touched a temporary table (~1 ms of
-- file operations each, per batch and per published table); a DELETE of the last batch's rows
-- costs microseconds, and a TRUNCATE now and then gives back the space of the dead ones. Returns
-- its name.
create or replace function realtime.batch_rows(p_relid oid, p_images jsonb[])
returns text
language plpgsql volatile
as $$
declare
  v_name text := 'realtime_rows_' || p_relid;
  v_columns text;
begin
  select string_agg(format('%I %s', attname, format_type(atttypid, atttypmod)), ', ' order by attnum)
    into v_columns
    from pg_attribute where attrelid = p_relid and attnum > 0 and not attisdropped;
  if v_columns is distinct from (
      select string_agg(format('%I %s', attname, format_type(atttypid, atttypmod)), ', ' order by attnum)
        from pg_attribute
       where attrelid = to_regclass('pg_temp.' || v_name) and attnum > 0 and not attisdropped
         and attname <> 'realtime batch row') then
    if to_regclass('pg_temp.' || v_name) is not null then  -- (no "if exists": its notice is logged)
      execute format('drop table pg_temp.%I', v_name);
    end if;
    execute format('create temporary table %I (%s, "realtime batch row" integer)', v_name, v_columns);
    execute format('grant select on pg_temp.%I to public', v_name);  -- read as the subscribers' roles
  elsif pg_relation_size(to_regclass('pg_temp.' || quote_ident(v_name))) > 1048576 then
    execute format('truncate pg_temp.%I', v_name);
  else
    execute format('delete from pg_temp.%I', v_name);
  end if;
  execute format('insert into pg_temp.%I select r.*, b.n from unnest($1) with ordinality as b(image, n), '
                 'jsonb_populate_record(null::%s, b.image) as r where b.image is not null', v_name, p_relid::regclass)
    using p_images;
  return v_name;
end
$$;

-- For a batch of row images (column name -> text value, as decoded from the WAL) of table
-- `p_relid`, which of them each (role, claims) context may SELECT: a JSON array with, per
-- context, the (1-based) indexes of the images it may see (in no particular order). The
-- policies are evaluated by PostgreSQL, as that role, with `request.jwt.claims` set to those
-- claims (so auth.uid(), auth.jwt() and current_user mean what they mean in a PostgREST
-- request). `p_subs`, `p_claim_roles`, `p_emails`: per context, the claims' own sub, role and
-- email as `claims ->> key` gives them ('' when absent; NULL: read them from the claims here),
-- also set as request.jwt.claim.sub / role / email (as private channels set them): auth.uid(),
-- auth.role() and auth.email() read those first, so a policy like `auth.uid() = owner_id` does
-- not parse the whole claims again for every row - and the caller, which has the claims parsed
-- already, saves a parse per context and batch here.
--
-- Per distinct role: the predicate is built once from the catalog (nothing is kept between
-- calls, so a policy change applies from the next call). When no policy of the table has a
-- sub-select, every context of the role is checked in ONE statement run as that role: the
-- contexts are crossed with the rows of the batch (typed once, realtime.batch_rows) and, for each
-- pair, a CASE first makes that pair's context current (its claims set, unless it is current
-- already: `localbase.realtime_context` names the current one) and only then evaluates the
-- predicate. The context is set inside the very expression that evaluates the predicate, so the
-- answer does not depend on the plan's join order. A sub-select in a policy (e.g. the
-- recommended `(select auth.uid())`) would be computed once per statement (an InitPlan), for
-- the first context only: such tables take the per-context path, where each context runs a
-- statement PREPAREd once per role, its claims set before each execution.
-- A failure in either path (a policy that raises for some row or claims, a whole-row reference
-- the batch table cannot stand for) is retried context by context and image by image: such an
-- image is invisible to that context and the error is reported as a WARNING.
drop function if exists realtime.visible_each(oid, jsonb[], text[], text[]);
create or replace function realtime.visible_each(p_relid oid, p_images jsonb[], p_roles text[], p_claims text[],
                                                 p_subs text[], p_claim_roles text[], p_emails text[])
returns jsonb
language plpgsql volatile
as $$
declare
  v_rel text := p_relid::regclass::text;
  v_alias text := quote_ident((select relname from pg_class where oid = p_relid));
  v_count integer := coalesce(array_length(p_roles, 1), 0);
  v_one_statement boolean;
  v_every jsonb;
  v_rows text;
  v_out jsonb[];
  v_part jsonb[];
  v_role text;
  v_members integer[];
  v_claims text[];
  v_subs text[];
  v_claim_roles text[];
  v_emails text[];
  v_predicate text;
  v_seen jsonb;
  v_claim_role text;
  v_value text;
  v_ok boolean;
  i integer;
begin
  if v_count = 0 then
    return '[]';
  end if;
  v_out := array_fill(null::jsonb, array[v_count]);
  select coalesce(jsonb_agg(n order by n), '[]') into v_every
    from unnest(p_images) with ordinality as u(image, n) where image is not null;
  v_one_statement := not exists (select 1 from pg_policy where polrelid = p_relid and polqual::text like '%{SUBLINK %');
  if exists (select 1 from pg_prepared_statements where name = 'realtime_visible') then
    deallocate realtime_visible;
  end if;
  for v_role in select distinct r from unnest(p_roles) as r loop
    -- the role's contexts and their claims (one pass: subscripting a text[] walks it from the start)
    select array_agg(u.n order by u.n), array_agg(u.claims order by u.n),
           array_agg(coalesce(u.sub, u.claims::jsonb ->> 'sub', '') order by u.n),
           array_agg(coalesce(u.claim_role, u.claims::jsonb ->> 'role', '') order by u.n),
           array_agg(coalesce(u.email, u.claims::jsonb ->> 'email', '') order by u.n)
      into v_members, v_claims, v_subs, v_claim_roles, v_emails
      from unnest(p_roles, p_claims, p_subs, p_claim_roles, p_emails) with ordinality
           as u(role, claims, sub, claim_role, email, n)
     where u.role = v_role;
    v_predicate := realtime.select_predicate(p_relid, v_role);
    if v_predicate in ('true', 'false') then
      foreach i in array v_members loop
        v_out[i] := case when v_predicate = 'true' then v_every else '[]' end;
      end loop;
      continue;
    end if;
    begin
      v_rows := coalesce(v_rows, realtime.batch_rows(p_relid, p_images));
      perform set_config('role', v_role, true);
      if v_one_statement then
        perform set_config('localbase.realtime_context', '', true);
        execute format($q$
          select array_agg(coalesce(seen, '[]') order by "realtime context")
            from (select c."realtime context", jsonb_agg(%1$s."realtime batch row") filter (where
                           case when current_setting('localbase.realtime_context') = c."realtime context"::text
                                     or (set_config('request.jwt.claims', c."realtime claims", true) is not null
                                         and set_config('request.jwt.claim.sub', c."realtime sub", true) is not null
                                         and set_config('request.jwt.claim.role', c."realtime role", true) is not null
                                         and set_config('request.jwt.claim.email', c."realtime email", true) is not null
                                         and set_config('localbase.realtime_context', c."realtime context"::text, true)
                                             is not null)
                                then (%3$s) end) as seen
                    from unnest($1::text[], $2::text[], $3::text[], $4::text[]) with ordinality
                         as c("realtime claims", "realtime sub", "realtime role", "realtime email", "realtime context")
                   cross join pg_temp.%2$I as %1$s
                   group by c."realtime context") as per_context
        $q$, v_alias, v_rows, v_predicate)
          into v_part using v_claims, v_subs, v_claim_roles, v_emails;
        for i in 1 .. array_length(v_members, 1) loop
          v_out[v_members[i]] := v_part[i];
        end loop;
      else
        execute format('prepare realtime_visible as select coalesce(jsonb_agg("realtime batch row"), ''[]'') '
                       'from pg_temp.%I as %s where %s', v_rows, v_alias, v_predicate);
        v_claim_role := null;
        for i in 1 .. array_length(v_members, 1) loop
          v_value := set_config('request.jwt.claims', v_claims[i], true);
          v_value := set_config('request.jwt.claim.sub', v_subs[i], true);
          v_value := set_config('request.jwt.claim.email', v_emails[i], true);
          if v_claim_roles[i] is distinct from v_claim_role then  -- mostly one value for all of a role's contexts
            v_claim_role := set_config('request.jwt.claim.role', v_claim_roles[i], true);
          end if;
          execute 'execute realtime_visible' into v_seen;
          v_out[v_members[i]] := v_seen;
        end loop;
      end if;
    exception when others then
      -- one context, one image at a time (the block above was rolled back: role and claims too)
      v_rows := null;
      for i in 1 .. array_length(v_members, 1) loop
        v_seen := '[]';
        for k in 1 .. coalesce(array_length(p_images, 1), 0) loop
          continue when p_images[k] is null;
          begin
            perform set_config('role', v_role, true);
            perform set_config('request.jwt.claims', v_claims[i], true),
                    set_config('request.jwt.claim.sub', v_subs[i], true),
                    set_config('request.jwt.claim.role', v_claim_roles[i], true),
                    set_config('request.jwt.claim.email', v_emails[i], true);
            execute format('select exists (select 1 from jsonb_populate_record(null::%s, $1) as %s where %s)',
                           v_rel, v_alias, v_predicate)
              into v_ok using p_images[k];
            perform set_config('role', 'none', true);
            if v_ok then
              v_seen := v_seen || to_jsonb(k);
            end if;
          exception when others then
            raise warning 'realtime: evaluating the RLS policies of % for role % failed: %', v_rel, v_role, sqlerrm;
          end;
        end loop;
        v_out[v_members[i]] := v_seen;
      end loop;
    end;
    perform set_config('role', 'none', true);
    perform set_config('request.jwt.claims', '', true), set_config('request.jwt.claim.sub', '', true),
            set_config('request.jwt.claim.role', '', true), set_config('request.jwt.claim.email', '', true),
            set_config('localbase.realtime_context', '', true);
    if exists (select 1 from pg_prepared_statements where name = 'realtime_visible') then
      deallocate realtime_visible;
    end if;
  end loop;
  return to_jsonb(v_out);
end
$$;
-- The subscriber contexts an authorization connection has been told, by number: a batch names
-- its contexts by these numbers instead of sending every subscriber's role and claims again
-- (a thousand subscribers' claims are ~0.5 MB per batch). Kept in a temporary table of the
-- session (gone with the connection; Realtime's numbering is per connection too). Returns how
-- many were added; an already known number is an error (a numbering out of step is never used).
create or replace function realtime.remember_contexts(p_ids integer[], p_roles text[], p_claims text[],
                                                      p_subs text[], p_claim_roles text[], p_emails text[])
returns integer
language plpgsql volatile
as $$
declare
  v_count integer;
begin
  if to_regclass('pg_temp.realtime_contexts') is null then
    create temporary table realtime_contexts (id integer primary key, role text not null, claims text not null,
                                              sub text, claim_role text, email text);
  end if;
  insert into pg_temp.realtime_contexts
  select * from unnest(p_ids, p_roles, p_claims, p_subs, p_claim_roles, p_emails);
  get diagnostics v_count = row_count;
  return v_count;
end
$$;

-- Forget every context told so far (Realtime numbers them again from the next batch).
create or replace function realtime.forget_contexts()
returns void
language plpgsql volatile
as $$
begin
  if to_regclass('pg_temp.realtime_contexts') is not null then
    truncate pg_temp.realtime_contexts;
  end if;
end
$$;

-- realtime.visible_each for contexts named by their numbers (realtime.remember_contexts).
create or replace function realtime.visible_known(p_relid oid, p_images jsonb[], p_ids integer[])
returns jsonb
language plpgsql volatile
as $$
declare
  v_roles text[];
  v_claims text[];
  v_subs text[];
  v_claim_roles text[];
  v_emails text[];
begin
  select array_agg(c.role order by u.n), array_agg(c.claims order by u.n), array_agg(c.sub order by u.n),
         array_agg(c.claim_role order by u.n), array_agg(c.email order by u.n)
    into v_roles, v_claims, v_subs, v_claim_roles, v_emails
    from unnest(p_ids) with ordinality as u(id, n)
    join pg_temp.realtime_contexts as c on c.id = u.id;
  if coalesce(array_length(v_roles, 1), 0) <> coalesce(array_length(p_ids, 1), 0) then
    raise exception 'realtime: a subscriber context was not told to this connection';
  end if;
  return realtime.visible_each(p_relid, p_images, v_roles, v_claims, v_subs, v_claim_roles, v_emails);
end
$$;

drop function if exists realtime.authorize(oid, jsonb, text[], text[]);

-- A subscription filter list, validated against the catalog, compiled to a predicate over the
-- table's columns; the values are referenced as `p_values`->>n (by default $2, a bind parameter),
-- cast to the column's type. p_filters: [[column, operator, negate, [values...]], ...]. Raises
-- on unknown columns or operators and on values the column's type does not accept.
drop function if exists realtime.filter_predicate(oid, jsonb);
create or replace function realtime.filter_predicate(p_relid oid, p_filters jsonb, p_values text default '$2')
returns text
language plpgsql stable
set search_path = pg_catalog
as $$
declare
  v_parts text[] := '{}';
  v_filter jsonb;
  v_type text;
  v_column text;
  v_op text;
  v_sql text;
  v_n integer := 0;
  v_items text[];
  v_ops constant jsonb := '{"eq": "=", "neq": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}';
begin
  for v_filter in select * from jsonb_array_elements(coalesce(p_filters, '[]')) loop
    v_column := v_filter ->> 0;
    v_op := v_filter ->> 1;
    select format_type(a.atttypid, a.atttypmod) into v_type
      from pg_attribute a
     where a.attrelid = p_relid and a.attname = v_column and a.attnum > 0 and not a.attisdropped;
    if v_type is null then
      raise exception 'column % does not exist in %', quote_ident(v_column), p_relid::regclass
        using errcode = '42703';
    end if;
    if v_ops ? v_op then
      v_sql := format('%I %s (%s->>%s)::%s', v_column, v_ops ->> v_op, p_values, v_n, v_type);
      v_n := v_n + 1;
    elsif v_op = 'in' then
      v_items := '{}';
      for i in 1 .. jsonb_array_length(v_filter -> 3) loop
        v_items := v_items || format('(%s->>%s)::%s', p_values, v_n, v_type);
        v_n := v_n + 1;
      end loop;
      if array_length(v_items, 1) is null then
        v_sql := 'false';
      else
        v_sql := format('%I in (%s)', v_column, array_to_string(v_items, ', '));
      end if;
    elsif v_op = 'is' then
      v_sql := format('%I is %s', v_column,
                      case lower(v_filter -> 3 ->> 0) when 'null' then 'null' when 'true' then 'true'
                        when 'false' then 'false' when 'unknown' then 'unknown'
                        else null end);
      if v_sql is null then
        raise exception 'invalid value for operator is: %', v_filter -> 3 ->> 0 using errcode = '22023';
      end if;
    else
      raise exception 'unsupported filter operator: %', v_op using errcode = '22023';
    end if;
    if (v_filter ->> 2)::boolean then
      v_sql := 'not (' || v_sql || ')';
    end if;
    v_parts := v_parts || ('coalesce(' || v_sql || ', false)');
  end loop;
  if array_length(v_parts, 1) is null then
    return 'true';
  end if;
  return array_to_string(v_parts, ' and ');
end
$$;

-- The values of a filter list in the order filter_predicate numbers them.
create or replace function realtime.filter_values(p_filters jsonb)
returns jsonb
language sql immutable
set search_path = pg_catalog
as $$
  select coalesce(jsonb_agg(v order by f.n, x.m), '[]')
    from jsonb_array_elements(coalesce(p_filters, '[]')) with ordinality as f(item, n),
         jsonb_array_elements(case when f.item ->> 1 = 'is' then '[]' else f.item -> 3 end)
           with ordinality as x(v, m)
$$;

-- Which of a batch of row images match each of several filter lists: per filter list, the
-- (1-based) indexes of the images it matches. Filter lists of the same shape (columns and
-- operators) share one compiled predicate, evaluated in one statement for all of them.
create or replace function realtime.match_each(p_relid oid, p_images jsonb[], p_filters jsonb[])
returns jsonb
language plpgsql stable
as $$
declare
  v_rel text := p_relid::regclass::text;
  v_count integer := coalesce(array_length(p_filters, 1), 0);
  v_out jsonb[];
  v_predicate text;
  v_lists integer[];
  v_values jsonb[];
  v_found record;
begin
  if v_count = 0 then
    return '[]';
  end if;
  v_out := array_fill('[]'::jsonb, array[v_count]);
  for v_predicate, v_lists in
      select p, array_agg(k order by k)
        from (select k, realtime.filter_predicate(p_relid, p_filters[k], 'realtime_filter.v') as p
                from generate_subscripts(p_filters, 1) as k) as compiled
       group by p loop
    v_values := array(select realtime.filter_values(p_filters[k]) from unnest(v_lists) as k);
    for v_found in execute format(
        'select realtime_filter.k, jsonb_agg(b.n order by b.n) as matched '
        'from unnest($1::integer[], $2::jsonb[]) as realtime_filter(k, v), '
        '     unnest($3::jsonb[]) with ordinality as b(image, n) '
        'where b.image is not null '
        '  and exists (select 1 from jsonb_populate_record(null::%s, b.image) as r where %s) '
        'group by realtime_filter.k', v_rel, v_predicate)
      using v_lists, v_values, p_images loop
      v_out[v_found.k] := v_found.matched;
    end loop;
  end loop;
  return to_jsonb(v_out);
end
$$;
drop function if exists realtime.match(oid, jsonb, jsonb[]);

-- A batch of row images (text values from the WAL) as typed JSON, as the clients receive them:
-- a JSON array in the same order (null for a null image); each keeps only the columns it
-- carries (a key-only old image stays key-only).
create or replace function realtime.typed_each(p_relid oid, p_images jsonb[])
returns jsonb
language plpgsql stable
set search_path = pg_catalog
as $$
declare
  v_out jsonb;
begin
  if coalesce(array_length(p_images, 1), 0) = 0 then
    return '[]';
  end if;
  execute format(
    'select jsonb_agg(case when u.image is null then null else '
    '  (select coalesce(jsonb_object_agg(e.k, e.v), ''{}'') from jsonb_each(to_jsonb(r)) as e(k, v) '
    '    where u.image ? e.k) end order by u.n) '
    'from unnest($1) with ordinality as u(image, n) '
    'left join lateral jsonb_populate_record(null::%s, u.image) as r on u.image is not null', p_relid::regclass)
    into v_out using p_images;
  return v_out;
end
$$;
-- One row image as typed JSON (the Kafka bridge types its changes with it); NULL for NULL.
create or replace function realtime.typed(p_relid oid, p_image jsonb)
returns jsonb
language sql stable
set search_path = pg_catalog
as $$ select nullif(realtime.typed_each(p_relid, array[p_image]) -> 0, 'null') $$;

-- Whether row level security applies to `p_role` on table `p_relid` (as PostgreSQL decides it:
-- RLS on, and the role neither a superuser, nor BYPASSRLS, nor the owner without FORCE).
create or replace function realtime.rls_applies(p_relid oid, p_role name)
returns boolean
language sql stable
set search_path = pg_catalog
as $$
  select c.relrowsecurity and not (r.rolsuper or r.rolbypassrls)
         and not (pg_has_role(r.oid, c.relowner, 'USAGE') and not c.relforcerowsecurity)
    from pg_class c, pg_roles r
   where c.oid = p_relid and r.rolname = p_role
$$;

-- What of a change of table `p_relid` a subscriber with role `p_role` may be shown, from the
-- catalog: `record` and `columns` hold the columns the role may SELECT (column privileges);
-- `old_record` holds those of them in the primary key when row level security applies to the
-- role (the previous image of an UPDATE or DELETE was never checked against the policies: it
-- may be another user's row), every one of them when it does not (service_role, RLS off);
-- `every`: how many columns the table has.
-- Realtime caches the answer per (table, role) and asks again after DDL (see below).
create or replace function realtime.visible_columns(p_relid oid, p_role name)
returns jsonb
language sql stable
set search_path = pg_catalog
as $$
  with cols as (
    select a.attnum, a.attname, t.typname,
           has_column_privilege(r.oid, p_relid, a.attnum, 'SELECT') as selectable,
           exists (select 1 from pg_index i where i.indrelid = p_relid and i.indisprimary
                                              and a.attnum = any(i.indkey)) as is_pkey
      from pg_attribute a join pg_type t on t.oid = a.atttypid, pg_roles r
     where a.attrelid = p_relid and a.attnum > 0 and not a.attisdropped and r.rolname = p_role
  )
  select jsonb_build_object(
    'record', coalesce(jsonb_agg(attname order by attnum) filter (where selectable), '[]'),
    'old_record', coalesce(jsonb_agg(attname order by attnum)
                             filter (where selectable and (is_pkey or not coalesce(realtime.rls_applies(p_relid, p_role), true))),
                           '[]'),
    'columns', coalesce(jsonb_agg(jsonb_build_object('name', attname, 'type', typname) order by attnum)
                          filter (where selectable), '[]'),
    'every', count(*))
    from cols
$$;
drop function if exists realtime.columns(oid);

-- Any DDL (ALTER TABLE, GRANT / REVOKE, ENABLE ROW LEVEL SECURITY, ...) writes a logical message
-- into the WAL, in its own transaction: Realtime reads it from its replication stream, in commit
-- order, and forgets what it cached from realtime.visible_columns before it handles any change
-- committed after the DDL.
create or replace function realtime.announce_ddl()
returns event_trigger
language plpgsql security definer
set search_path = pg_catalog
as $$
begin
  perform pg_logical_emit_message(true, 'localbase.realtime.ddl', '');
end
$$;
revoke all on function realtime.announce_ddl() from public;
do $$
begin
  if not exists (select 1 from pg_event_trigger where evtname = 'localbase_realtime_ddl') then
    create event trigger localbase_realtime_ddl on ddl_command_end execute function realtime.announce_ddl();
  end if;
end
$$;

revoke all on function realtime.select_predicate(oid, name) from public;
revoke all on function realtime.visible_each(oid, jsonb[], text[], text[], text[], text[], text[]) from public;
revoke all on function realtime.batch_rows(oid, jsonb[]) from public;
revoke all on function realtime.remember_contexts(integer[], text[], text[], text[], text[], text[]) from public;
revoke all on function realtime.forget_contexts() from public;
revoke all on function realtime.visible_known(oid, jsonb[], integer[]) from public;
revoke all on function realtime.filter_predicate(oid, jsonb, text) from public;
revoke all on function realtime.filter_values(jsonb) from public;
revoke all on function realtime.match_each(oid, jsonb[], jsonb[]) from public;
revoke all on function realtime.typed_each(oid, jsonb[]) from public;
revoke all on function realtime.typed(oid, jsonb) from public;
revoke all on function realtime.rls_applies(oid, name) from public;
revoke all on function realtime.visible_columns(oid, name) from public;
grant execute on function realtime.select_predicate(oid, name),
  realtime.visible_each(oid, jsonb[], text[], text[], text[], text[], text[]),
  realtime.batch_rows(oid, jsonb[]),
  realtime.remember_contexts(integer[], text[], text[], text[], text[], text[]), realtime.forget_contexts(),
  realtime.visible_known(oid, jsonb[], integer[]),
  realtime.filter_predicate(oid, jsonb, text), realtime.filter_values(jsonb),
  realtime.match_each(oid, jsonb[], jsonb[]), realtime.typed_each(oid, jsonb[]), realtime.typed(oid, jsonb),
  realtime.rls_applies(oid, name),
  realtime.visible_columns(oid, name)
  to supabase_realtime_admin;

-- Private channels (Realtime Authorization): who may receive (SELECT) and send (INSERT) broadcast
-- and presence on a topic is what the project's RLS policies on realtime.messages allow, shaped as
-- on Supabase (topic, extension 'broadcast' | 'presence', realtime.topic() in policies). Realtime
-- probes them in a transaction it rolls back: no message is ever stored here.
create table if not exists realtime.messages (
  id uuid primary key default gen_random_uuid(),
  topic text not null,
  extension text not null,
  payload jsonb,
  event text,
  private boolean default false,
  updated_at timestamp not null default now(),
  inserted_at timestamp not null default now()
);
alter table realtime.messages owner to supabase_realtime_admin;
-- UTC whatever the inserting session's time zone (broadcast replay compares with client times)
alter table realtime.messages alter column inserted_at set default (now() at time zone 'utc'),
                              alter column updated_at set default (now() at time zone 'utc');
alter table realtime.messages enable row level security;
create index if not exists messages_topic_idx on realtime.messages (topic);
grant usage on schema realtime to anon, authenticated, service_role;
grant select, insert, update on realtime.messages to anon, authenticated, service_role;

-- The topic being joined, for policies: `realtime.topic() = 'room:' || auth.uid()`.
create or replace function realtime.topic()
returns text
language sql stable
as $$ select nullif(current_setting('realtime.topic', true), '')::text $$;
alter function realtime.topic() owner to supabase_realtime_admin;
grant execute on function realtime.topic() to anon, authenticated, service_role;

-- Broadcast from the database, as on Supabase: realtime.send() stores a message, Realtime reads
-- it from the replication stream (publication localbase_realtime_messages, inserts only) and
-- broadcasts it to the topic's private (default) or public channel. A failure is a WARNING, never
-- an error in the caller's transaction; a rolled-back transaction sends nothing.
create index if not exists messages_inserted_at_idx on realtime.messages (inserted_at);

create or replace function realtime.send(payload jsonb, event text, topic text, private boolean default true)
returns void
language plpgsql
as $$
begin
  begin
    perform set_config('realtime.topic', topic, true);
    insert into realtime.messages (payload, event, topic, private, extension)
    values (case when jsonb_typeof(payload) = 'object' and not payload ? 'id'
                 then payload || jsonb_build_object('id', gen_random_uuid()) else payload end,
            event, topic, private, 'broadcast');
  exception when others then
    raise warning 'ErrorSendingBroadcastMessage: %', sqlerrm;
  end;
end
$$;

-- For row triggers: {operation, table, schema, record, old_record} to `topic_name` as `event_name`.
create or replace function realtime.broadcast_changes(topic_name text, event_name text, operation text,
  table_name text, table_schema text, new record, old record, level text default 'ROW')
returns void
language plpgsql
as $$
begin
  if level = 'STATEMENT' then
    raise exception 'function can only be triggered for each row, not for each statement';
  end if;
  if operation not in ('INSERT', 'UPDATE', 'DELETE') then
    raise exception 'Unexpected operation type: %', operation;
  end if;
  perform realtime.send(jsonb_build_object('old_record', old, 'record', new, 'operation', operation,
                                           'table', table_name, 'schema', table_schema),
                        event_name, topic_name);
end
$$;
alter function realtime.send(jsonb, text, text, boolean) owner to supabase_realtime_admin;
alter function realtime.broadcast_changes(text, text, text, text, text, record, record, text)
  owner to supabase_realtime_admin;
grant execute on function realtime.send(jsonb, text, text, boolean),
  realtime.broadcast_changes(text, text, text, text, text, record, record, text)
  to anon, authenticated, service_role;

do $$
begin
  if not exists (select 1 from pg_publication where pubname = 'localbase_realtime_messages') then
    create publication localbase_realtime_messages for table realtime.messages with (publish = 'insert');
  end if;
end
$$;
