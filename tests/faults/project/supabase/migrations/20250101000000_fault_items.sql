-- Rows written by the fault tests: each user reads and writes their own; `batch` groups the rows
-- one request inserted (a request's rows are all there or none are).
create table public.items (
  id bigint generated always as identity primary key,
  owner_id uuid not null default auth.uid(),
  batch integer not null,
  n integer not null,
  note text,
  unique (batch, n)
);
alter table public.items enable row level security;
create policy "own rows" on public.items for select to authenticated using (auth.uid() = owner_id);
create policy "insert own rows" on public.items for insert to authenticated with check (auth.uid() = owner_id);
alter table public.items replica identity full;
alter publication supabase_realtime add table public.items;
