-- Tables for the batched authorization tests (test_batched_authorization.py), all with RLS and in
-- publication supabase_realtime (at the end).

-- Own rows, with a policy that raises for some rows (divisor 0), and columns named like the
-- names Realtime's batch statements use for themselves (n, image, v, k, b).
create table public.fragile (
  id bigint generated always as identity primary key,
  owner_id uuid not null,
  divisor integer not null default 1,
  n integer,
  image text,
  v text,
  k integer,
  b boolean
);
create policy "own rows, if they divide" on public.fragile for select to authenticated
  using (owner_id = auth.uid() and 10 / divisor > 0);
alter table public.fragile replica identity full;

-- Own rows, for the tests that change the table or its policy while subscribed.
create table public.journal (id bigint generated always as identity primary key, owner_id uuid not null,
                             body text not null);
create policy "own entries" on public.journal for select to authenticated using (owner_id = (select auth.uid()));

-- Rows addressed by e-mail, read through auth.email() and auth.role() (which Realtime answers from
-- request.jwt.claim.* set per subscriber: never the previous subscriber's).
create table public.mail (id bigint generated always as identity primary key, recipient text not null,
                          body text not null);
create policy "own mail" on public.mail for select to authenticated
  using (recipient = auth.email() and auth.role() = 'authenticated');

alter table public.fragile enable row level security;
alter table public.journal enable row level security;
alter table public.mail enable row level security;
alter publication supabase_realtime add table public.fragile, public.journal, public.mail;
