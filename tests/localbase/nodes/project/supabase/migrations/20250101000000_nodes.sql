-- Tables for the nodes tests: changes streamed by every node, a session's own rows (read your
-- writes on replicas), and where a read was served from.
create table public.ticks (
  id bigint generated always as identity primary key,
  n integer not null,
  note text
);
alter publication supabase_realtime add table public.ticks;
alter table public.ticks enable row level security;
create policy "ticks are public" on public.ticks for all to anon, authenticated using (true) with check (true);

create table public.items (
  id bigint generated always as identity primary key,
  owner uuid not null default auth.uid(),
  body text not null
);
alter table public.items enable row level security;
create policy "own items" on public.items for all to authenticated
  using (owner = auth.uid()) with check (owner = auth.uid());

-- Which server answered a read: a standby (a read replica) or the primary.
create view public.served_by with (security_invoker = true) as
  select pg_is_in_recovery() as standby, (select count(*) from public.ticks) as ticks;
grant select on public.served_by to anon, authenticated;

create table public.seed_runs (id bigint generated always as identity primary key, at timestamptz default now());
alter table public.seed_runs enable row level security;
