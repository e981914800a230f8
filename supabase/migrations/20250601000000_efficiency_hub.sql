-- The Efficiency Hub: citizens, their efficiency events, the organizational hierarchy, workspaces
-- and optimizer metrics, with row-level security on every table. Valid on Supabase as on Localbase.

-- The clearance ladder, lowest to highest.
create type public.clearance_level as enum
  ('infrared', 'red', 'orange', 'yellow', 'green', 'blue', 'indigo', 'violet', 'ultraviolet');

create table public.citizens (
  id uuid primary key default gen_random_uuid(),
  user_id uuid unique references auth.users (id) on delete cascade,
  citizen_id text not null unique check (citizen_id ~ '^EFF-[0-9]{4}-[0-9]{3,}$'),
  name text not null check (length(trim(name)) > 0),
  email text,
  clearance_level public.clearance_level not null default 'infrared',
  efficiency_score numeric(5, 2) not null default 75 check (efficiency_score between 0 and 100),
  specialization text,
  delegation_level int not null default 1 check (delegation_level between 0 and 10),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table public.efficiency_events (
  id bigint generated always as identity primary key,
  citizen_id uuid not null references public.citizens (id) on delete cascade,
  event_type text not null check (length(event_type) between 1 and 64),
  efficiency_delta numeric(6, 2) not null default 0 check (efficiency_delta between -100 and 100),
  details jsonb not null default '{}'::jsonb,
  -- an automated intervention names the event that triggered it; at most one per trigger
  triggered_by bigint unique references public.efficiency_events (id) on delete set null,
  created_at timestamptz not null default now()
);
create index efficiency_events_citizen_created_idx on public.efficiency_events (citizen_id, created_at desc);

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
  name text not null check (length(trim(name)) > 0),
  owner_id uuid not null references public.citizens (id) on delete cascade,
  clearance_requirement public.clearance_level not null default 'infrared',
  description text,
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
  completion_time numeric,
  automation_level numeric,
  used_manual_config boolean,
  processed_at timestamptz not null default now(),
  processed_by uuid
);

-- updated_at is kept by the database
create function public.touch_updated_at() returns trigger language plpgsql as $$
begin
  new.updated_at := now();
  return new;
end $$;
create trigger citizens_touch before update on public.citizens
  for each row execute function public.touch_updated_at();

-- An event moves the citizen's score in the same transaction, clamped to 0..100.
create function public.apply_efficiency_delta() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  update public.citizens
     set efficiency_score = least(100, greatest(0, efficiency_score + new.efficiency_delta))
   where id = new.citizen_id;
  return new;
end $$;
create trigger efficiency_events_apply after insert on public.efficiency_events
  for each row execute function public.apply_efficiency_delta();

-- Helpers for the policies. SECURITY DEFINER so that they can read the tables they guard without
-- recursing into those tables' own policies; each answers only about the caller (auth.uid()).
create function public.current_citizen_id() returns uuid
language sql stable security definer set search_path = '' as $$
  select id from public.citizens where user_id = auth.uid()
$$;

create function public.clearance_rank(level public.clearance_level) returns int
language sql immutable set search_path = '' as $$
  select array_position(enum_range(null::public.clearance_level), level)
$$;

-- Everyone below the caller in the hierarchy, transitively (cycles are cut by UNION).
create function public.my_subordinates() returns setof uuid
language sql stable security definer set search_path = '' as $$
  with recursive below(id) as (
    select h.subordinate_id from public.organizational_hierarchy h
     where h.supervisor_id = (select id from public.citizens where user_id = auth.uid())
    union
    select h.subordinate_id from public.organizational_hierarchy h join below b on h.supervisor_id = b.id
  )
  select id from below
$$;

create function public.can_see_citizen(target uuid) returns boolean
language sql stable security definer set search_path = '' as $$
  select target = public.current_citizen_id() or target in (select public.my_subordinates())
$$;

create function public.is_workspace_member(ws uuid) returns boolean
language sql stable security definer set search_path = '' as $$
  select exists (
    select 1
      from public.workspace_members m
      join public.efficiency_workspaces w on w.workspace_id = m.workspace_id
      join public.citizens c on c.id = m.citizen_id
     where m.workspace_id = ws and c.user_id = auth.uid()
       and public.clearance_rank(c.clearance_level) >= public.clearance_rank(w.clearance_requirement)
  )
$$;

revoke all on function public.current_citizen_id(), public.my_subordinates(), public.can_see_citizen(uuid),
  public.is_workspace_member(uuid), public.apply_efficiency_delta() from public, anon;
grant execute on function public.current_citizen_id(), public.my_subordinates(), public.can_see_citizen(uuid),
  public.is_workspace_member(uuid) to authenticated, service_role;

-- Row-level security: own rows, supervisors see their subordinates, workspace rows for members at
-- or above the workspace's clearance; the service role bypasses RLS.
alter table public.citizens enable row level security;
alter table public.efficiency_events enable row level security;
alter table public.organizational_hierarchy enable row level security;
alter table public.efficiency_workspaces enable row level security;
alter table public.workspace_members enable row level security;
alter table public.efficiency_metrics enable row level security;

create policy "citizens: read own and subordinates" on public.citizens for select to authenticated
  using (user_id = auth.uid() or public.can_see_citizen(id));
create policy "citizens: update own profile" on public.citizens for update to authenticated
  using (user_id = auth.uid()) with check (user_id = auth.uid());

create policy "events: read own and subordinates'" on public.efficiency_events for select to authenticated
  using (public.can_see_citizen(citizen_id));
create policy "events: record own" on public.efficiency_events for insert to authenticated
  with check (citizen_id = public.current_citizen_id() and triggered_by is null);

create policy "hierarchy: see own links" on public.organizational_hierarchy for select to authenticated
  using (supervisor_id = public.current_citizen_id() or subordinate_id = public.current_citizen_id()
         or supervisor_id in (select public.my_subordinates()));

create policy "workspaces: members at clearance, and owners" on public.efficiency_workspaces for select to authenticated
  using (owner_id = public.current_citizen_id() or public.is_workspace_member(workspace_id));
create policy "workspaces: create own" on public.efficiency_workspaces for insert to authenticated
  with check (owner_id = public.current_citizen_id());
create policy "workspaces: owners update" on public.efficiency_workspaces for update to authenticated
  using (owner_id = public.current_citizen_id()) with check (owner_id = public.current_citizen_id());
create policy "workspaces: owners delete" on public.efficiency_workspaces for delete to authenticated
  using (owner_id = public.current_citizen_id());

create policy "members: see co-members" on public.workspace_members for select to authenticated
  using (citizen_id = public.current_citizen_id() or public.is_workspace_member(workspace_id));
create policy "members: owners add" on public.workspace_members for insert to authenticated
  with check (exists (select 1 from public.efficiency_workspaces w
                       where w.workspace_id = workspace_members.workspace_id
                         and w.owner_id = public.current_citizen_id()));
create policy "members: owners remove" on public.workspace_members for delete to authenticated
  using (exists (select 1 from public.efficiency_workspaces w
                  where w.workspace_id = workspace_members.workspace_id
                    and w.owner_id = public.current_citizen_id()));

create policy "metrics: read own and subordinates'" on public.efficiency_metrics for select to authenticated
  using (public.can_see_citizen(citizen_id));

-- Users may edit their profile, never their own score, clearance or delegation (the service role
-- and the event trigger do that).
revoke insert, update, delete on public.citizens from anon, authenticated;
grant update (name, email, specialization) on public.citizens to authenticated;
revoke update, delete on public.efficiency_events from anon, authenticated;
revoke insert, update, delete on public.efficiency_metrics, public.organizational_hierarchy from anon, authenticated;

-- The sign-up trigger: a citizen row from the new user's metadata (citizen_id, name, clearance...).
create function public.handle_new_user() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  meta jsonb := coalesce(new.raw_user_meta_data, '{}'::jsonb);
begin
  if meta ? 'citizen_id' then
    insert into public.citizens (user_id, citizen_id, name, email, clearance_level, specialization)
    values (new.id, meta ->> 'citizen_id', coalesce(nullif(meta ->> 'name', ''), split_part(new.email, '@', 1)),
            new.email, coalesce(nullif(meta ->> 'clearance_level', ''), 'infrared')::public.clearance_level,
            meta ->> 'specialization');
  end if;
  return new;
end $$;
create trigger on_auth_user_created after insert on auth.users
  for each row execute function public.handle_new_user();

-- Live events for the monitor and the dashboard.
alter publication supabase_realtime add table public.efficiency_events;
alter publication supabase_realtime add table public.citizens;
