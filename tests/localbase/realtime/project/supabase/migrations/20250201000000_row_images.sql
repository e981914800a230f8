-- Tables for the row-image tests (test_row_images.py): what a subscriber may see of a change.

-- A row that changes hands: RLS, and old records on UPDATE/DELETE (replica identity full). The
-- previous image of an UPDATE that gives the row to a user is the previous owner's row.
create table public.tickets (
  id bigint generated always as identity primary key,
  owner_id uuid not null,
  secret text,
  title text not null
);
alter table public.tickets enable row level security;
create policy "own tickets" on public.tickets for select to authenticated using (auth.uid() = owner_id);
alter table public.tickets replica identity full;
alter publication supabase_realtime add table public.tickets;

-- Column privileges without RLS: signed-in users may read every column but `salary`.
create table public.staff (
  id bigint generated always as identity primary key,
  name text not null,
  salary integer
);
revoke select on public.staff from anon, authenticated;
grant select (id, name) on public.staff to authenticated;
alter table public.staff replica identity full;
alter publication supabase_realtime add table public.staff;

-- For the test that changes grants while subscribed (a table of its own).
create table public.payroll (
  id bigint generated always as identity primary key,
  name text not null,
  salary integer
);
revoke select on public.payroll from anon, authenticated;
grant select (id, name) on public.payroll to authenticated;
alter publication supabase_realtime add table public.payroll;
