create table public.ledger (
  id bigint generated always as identity primary key,
  account text not null,
  n integer not null,
  note text
);
alter table public.ledger replica identity full;
alter table public.ledger enable row level security;
create policy "service only" on public.ledger for select to service_role using (true);

create table public.notes (id uuid primary key default gen_random_uuid(), body text);
alter table public.notes enable row level security;

create table public.unpublished (id serial primary key, body text);

alter publication supabase_realtime add table public.ledger, public.notes;

-- Private channel 'vip': only signed-in users may join.
create policy "vip readers" on realtime.messages for select to authenticated using (realtime.topic() = 'vip');
