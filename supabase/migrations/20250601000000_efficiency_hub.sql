-- The Efficiency Hub: citizens, their efficiency events, the organizational hierarchy, workspaces
-- and optimizer metrics, with row-level security on every table. Valid on Supabase as on Localbase.

-- The clearance ladder, lowest to highest (enum order is the ladder: `>=` compares ranks).
create type public.clearance_level as enum
  ('infrared', 'red', 'orange', 'yellow', 'green', 'blue', 'indigo', 'violet', 'ultraviolet');

create table public.citizens (
  id uuid primary key default gen_random_uuid(),
  user_id uuid unique references auth.users (id) on delete cascade,
  citizen_id text not null unique
    constraint citizens_citizen_id_format check (citizen_id ~ '^EFF-[0-9]{4}-[0-9]{3,}$'),
  name text not null check (length(trim(name)) between 1 and 200),
  email text,
  clearance_level public.clearance_level not null default 'infrared',
  efficiency_score numeric(5, 2) not null default 75 check (efficiency_score between 0 and 100),
  specialization text check (length(specialization) <= 200),
  delegation_level int not null default 1 check (delegation_level between 0 and 10),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index citizens_clearance_idx on public.citizens (clearance_level);

create table public.efficiency_events (
  id bigint generated always as identity primary key,
  citizen_id uuid not null references public.citizens (id) on delete cascade,
  event_type text not null check (event_type ~ '^[a-z][a-z0-9_]{0,63}$'),
  efficiency_delta numeric(6, 2) not null default 0 check (efficiency_delta between -100 and 100),
  details jsonb not null default '{}'::jsonb check (jsonb_typeof(details) = 'object'),
  -- the citizen's score once this event was applied: the score's history, for trends and charts
  score_after numeric(5, 2),
  -- an automated intervention names the event that triggered it; at most one per trigger
  triggered_by bigint unique references public.efficiency_events (id) on delete set null,
  created_at timestamptz not null default now()
);
create index efficiency_events_citizen_created_idx on public.efficiency_events (citizen_id, created_at desc);
create index efficiency_events_created_idx on public.efficiency_events (created_at desc);

create table public.organizational_hierarchy (
  supervisor_id uuid not null references public.citizens (id) on delete cascade,
  subordinate_id uuid not null references public.citizens (id) on delete cascade,
  created_at timestamptz not null default now(),
  primary key (supervisor_id, subordinate_id),
  check (supervisor_id <> subordinate_id)
);
create index organizational_hierarchy_subordinate_idx on public.organizational_hierarchy (subordinate_id);

create table public.efficiency_workspaces (
  workspace_id uuid primary key default gen_random_uuid(),
  name text not null check (length(trim(name)) between 1 and 200),
  owner_id uuid not null references public.citizens (id) on delete cascade,
  clearance_requirement public.clearance_level not null default 'infrared',
  description text check (length(description) <= 2000),
  settings jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now()
);
create index efficiency_workspaces_owner_idx on public.efficiency_workspaces (owner_id);

create table public.workspace_members (
  workspace_id uuid not null references public.efficiency_workspaces (workspace_id) on delete cascade,
  citizen_id uuid not null references public.citizens (id) on delete cascade,
  role text not null default 'member' check (role in ('owner', 'member')),
  joined_at timestamptz not null default now(),
  primary key (workspace_id, citizen_id)
);
create index workspace_members_citizen_idx on public.workspace_members (citizen_id);

create table public.efficiency_metrics (
  id bigint generated always as identity primary key,
  citizen_id uuid not null unique references public.citizens (id) on delete cascade,
  optimization_score numeric(6, 2) not null check (optimization_score between 0 and 100),
  delegation_efficiency text not null check (delegation_efficiency in ('maximum', 'partial')),
  completion_time numeric check (completion_time > 0),
  automation_level numeric check (automation_level > 0),
  used_manual_config boolean,
  processed_at timestamptz not null default now(),
  processed_by uuid
);

-- updated_at is kept by the database
create function public.touch_updated_at() returns trigger language plpgsql set search_path = '' as $$
begin
  new.updated_at := now();
  return new;
end $$;
create trigger citizens_touch before update on public.citizens
  for each row execute function public.touch_updated_at();

-- An event moves the citizen's score in the same transaction, clamped to 0..100, and records the
-- resulting score on the event. Row-locks the citizen, so concurrent events add up exactly.
create function public.apply_efficiency_delta() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  update public.citizens
     set efficiency_score = least(100, greatest(0, efficiency_score + new.efficiency_delta))
   where id = new.citizen_id
  returning efficiency_score into new.score_after;
  return new;
end $$;
create trigger efficiency_events_apply before insert on public.efficiency_events
  for each row execute function public.apply_efficiency_delta();

-- Helpers for the policies. SECURITY DEFINER so that they read the tables they guard without
-- recursing into those tables' own policies; each answers only about the caller (auth.uid()).
-- Policies call them as `x in (select f())`, which PostgreSQL evaluates once per query.
create function public.current_citizen_id() returns uuid
language sql stable security definer set search_path = '' as $$
  select id from public.citizens where user_id = auth.uid()
$$;

-- The caller and everyone below the caller in the hierarchy, transitively (UNION cuts cycles).
create function public.visible_citizen_ids() returns setof uuid
language sql stable security definer set search_path = '' as $$
  with recursive below(id) as (
    select id from public.citizens where user_id = auth.uid()
    union
    select h.subordinate_id from public.organizational_hierarchy h join below b on h.supervisor_id = b.id
  )
  select id from below
$$;

-- Workspaces the caller owns, or belongs to at or above the workspace's clearance requirement.
create function public.visible_workspace_ids() returns setof uuid
language sql stable security definer set search_path = '' as $$
  select w.workspace_id
    from public.efficiency_workspaces w
    join public.citizens c on c.user_id = auth.uid()
   where w.owner_id = c.id
      or (c.clearance_level >= w.clearance_requirement
          and exists (select 1 from public.workspace_members m
                       where m.workspace_id = w.workspace_id and m.citizen_id = c.id))
$$;

revoke all on function public.current_citizen_id(), public.visible_citizen_ids(),
  public.visible_workspace_ids(), public.apply_efficiency_delta() from public, anon;
grant execute on function public.current_citizen_id(), public.visible_citizen_ids(),
  public.visible_workspace_ids() to authenticated, service_role;

-- Row-level security: own rows, supervisors see their subordinates, workspace rows for members at
-- or above the workspace's clearance; the service role bypasses RLS.
alter table public.citizens enable row level security;
alter table public.efficiency_events enable row level security;
alter table public.organizational_hierarchy enable row level security;
alter table public.efficiency_workspaces enable row level security;
alter table public.workspace_members enable row level security;
alter table public.efficiency_metrics enable row level security;

create policy "citizens: read own and subordinates" on public.citizens for select to authenticated
  using (id in (select public.visible_citizen_ids()));
create policy "citizens: update own profile" on public.citizens for update to authenticated
  using (user_id = (select auth.uid())) with check (user_id = (select auth.uid()));

create policy "events: read own and subordinates'" on public.efficiency_events for select to authenticated
  using (citizen_id in (select public.visible_citizen_ids()));
-- Citizens record their own events; interventions are the monitor's (service role) alone.
create policy "events: record own" on public.efficiency_events for insert to authenticated
  with check (citizen_id = (select public.current_citizen_id())
              and triggered_by is null and event_type <> 'automated_intervention');

create policy "hierarchy: links within own subtree" on public.organizational_hierarchy for select to authenticated
  using (supervisor_id in (select public.visible_citizen_ids())
         or subordinate_id = (select public.current_citizen_id()));

-- (The owner test is on the row itself, so that INSERT ... RETURNING sees the new workspace.)
create policy "workspaces: owners, and members at clearance" on public.efficiency_workspaces
  for select to authenticated
  using (owner_id = (select public.current_citizen_id())
         or workspace_id in (select public.visible_workspace_ids()));
-- An owner must hold the clearance the workspace requires.
create policy "workspaces: create own at own clearance" on public.efficiency_workspaces
  for insert to authenticated
  with check (owner_id = (select public.current_citizen_id())
              and clearance_requirement <= (select c.clearance_level from public.citizens c
                                             where c.id = (select public.current_citizen_id())));
create policy "workspaces: owners update" on public.efficiency_workspaces for update to authenticated
  using (owner_id = (select public.current_citizen_id()))
  with check (owner_id = (select public.current_citizen_id()));
create policy "workspaces: owners delete" on public.efficiency_workspaces for delete to authenticated
  using (owner_id = (select public.current_citizen_id()));

create policy "members: rows of visible workspaces" on public.workspace_members for select to authenticated
  using (workspace_id in (select public.visible_workspace_ids()));
create policy "members: owners remove" on public.workspace_members for delete to authenticated
  using (workspace_id in (select w.workspace_id from public.efficiency_workspaces w
                           where w.owner_id = (select public.current_citizen_id())));

create policy "metrics: read own and subordinates'" on public.efficiency_metrics for select to authenticated
  using (citizen_id in (select public.visible_citizen_ids()));

-- Users may edit their profile, never their own score, clearance or delegation (the service role
-- and the event trigger do that). Metrics are written by the optimizer function (service role).
revoke insert, update, delete, truncate on public.citizens from anon, authenticated;
grant update (name, email, specialization) on public.citizens to authenticated;
revoke update, delete, truncate on public.efficiency_events from anon, authenticated;
revoke insert, update, delete, truncate on public.efficiency_metrics, public.organizational_hierarchy
  from anon, authenticated;
revoke insert, update, truncate on public.workspace_members from anon, authenticated;
revoke all on public.citizens, public.efficiency_events, public.organizational_hierarchy,
  public.efficiency_workspaces, public.workspace_members, public.efficiency_metrics from anon;

-- The owner of a new workspace is its first member.
create function public.add_workspace_owner() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  insert into public.workspace_members (workspace_id, citizen_id, role)
  values (new.workspace_id, new.owner_id, 'owner');
  return new;
end $$;
create trigger efficiency_workspaces_owner after insert on public.efficiency_workspaces
  for each row execute function public.add_workspace_owner();
revoke all on function public.add_workspace_owner() from public, anon, authenticated;

-- An owner adds a member by their public citizen id; the member must hold the clearance required.
create function public.add_workspace_member(p_workspace uuid, p_citizen_id text)
returns public.workspace_members
language plpgsql security definer set search_path = '' as $$
declare
  ws public.efficiency_workspaces;
  member public.citizens;
  added public.workspace_members;
begin
  select * into ws from public.efficiency_workspaces where workspace_id = p_workspace;
  if not found or ws.owner_id is distinct from public.current_citizen_id() then
    raise exception 'workspace not found or not owned by you' using errcode = '42501';
  end if;
  select * into member from public.citizens where citizen_id = p_citizen_id;
  if not found then
    raise exception 'no citizen %', p_citizen_id using errcode = 'P0002';
  end if;
  if member.clearance_level < ws.clearance_requirement then
    raise exception 'citizen % holds clearance %, the workspace requires %',
      p_citizen_id, member.clearance_level, ws.clearance_requirement
      using errcode = '42501', hint = 'raise the citizen''s clearance first';
  end if;
  insert into public.workspace_members (workspace_id, citizen_id) values (p_workspace, member.id)
  returning * into added;
  return added;
end $$;
revoke all on function public.add_workspace_member(uuid, text) from public, anon;
grant execute on function public.add_workspace_member(uuid, text) to authenticated, service_role;

-- Registration asks whether a citizen id is free before creating the account (the sign-up
-- trigger would otherwise fail with Auth's opaque "Database error saving new user").
create function public.citizen_id_taken(p_citizen_id text) returns boolean
language sql stable security definer set search_path = '' as $$
  select exists (select 1 from public.citizens where citizen_id = p_citizen_id)
$$;
revoke all on function public.citizen_id_taken(text) from public;
grant execute on function public.citizen_id_taken(text) to anon, authenticated, service_role;

-- The trend of a citizen's score: events and net change over the last `p_days` against the period
-- before. SECURITY INVOKER: RLS decides whose events count.
create function public.efficiency_trend(p_citizen uuid, p_days int default 7)
returns table (events_recent bigint, delta_recent numeric, delta_previous numeric, direction text)
language sql stable set search_path = '' as $$
  with e as (
    select efficiency_delta, created_at >= now() - make_interval(days => p_days) as recent
      from public.efficiency_events
     where citizen_id = p_citizen and created_at >= now() - make_interval(days => 2 * p_days)
  )
  select count(*) filter (where recent),
         coalesce(sum(efficiency_delta) filter (where recent), 0),
         coalesce(sum(efficiency_delta) filter (where not recent), 0),
         case when coalesce(sum(efficiency_delta) filter (where recent), 0) > 0 then 'improving'
              when coalesce(sum(efficiency_delta) filter (where recent), 0) < 0 then 'declining'
              else 'stable' end
    from e
$$;
revoke all on function public.efficiency_trend(uuid, int) from public, anon;
grant execute on function public.efficiency_trend(uuid, int) to authenticated, service_role;

-- Events below the threshold with no intervention yet: what a restarted monitor catches up on.
create function public.events_awaiting_intervention(p_threshold numeric, p_since timestamptz)
returns setof public.efficiency_events
language sql stable set search_path = '' as $$
  select e.* from public.efficiency_events e
   where e.efficiency_delta < p_threshold and e.created_at >= p_since
     and e.event_type <> 'automated_intervention'
     and not exists (select 1 from public.efficiency_events i where i.triggered_by = e.id)
   order by e.id
$$;
revoke all on function public.events_awaiting_intervention(numeric, timestamptz) from public, anon, authenticated;
grant execute on function public.events_awaiting_intervention(numeric, timestamptz) to service_role;

-- The sign-up trigger: a citizen row from the new user's metadata. Name, citizen id and
-- specialization come from user metadata (what the user typed); clearance and delegation only from
-- app metadata, which only the service role can set: clearance is granted, never claimed.
create function public.handle_new_user() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  meta jsonb := coalesce(new.raw_user_meta_data, '{}'::jsonb);
  app jsonb := coalesce(new.raw_app_meta_data, '{}'::jsonb);
begin
  if meta ? 'citizen_id' then
    insert into public.citizens (user_id, citizen_id, name, email, clearance_level, delegation_level,
                                 specialization)
    values (new.id, meta ->> 'citizen_id',
            coalesce(nullif(trim(meta ->> 'name'), ''), split_part(new.email, '@', 1)), new.email,
            coalesce(nullif(app ->> 'clearance_level', ''), 'infrared')::public.clearance_level,
            coalesce((app ->> 'delegation_level')::int, 1), nullif(trim(meta ->> 'specialization'), ''));
  end if;
  return new;
end $$;
revoke all on function public.handle_new_user() from public, anon, authenticated;
create trigger on_auth_user_created after insert on auth.users
  for each row execute function public.handle_new_user();

-- Live events for the monitor and the dashboard.
alter publication supabase_realtime add table public.efficiency_events;
alter publication supabase_realtime add table public.citizens;
alter publication supabase_realtime add table public.efficiency_metrics;
