-- Tables for the Realtime tests, enabled for Realtime exactly as on Supabase.

-- Each user sees their own notes; old records on UPDATE/DELETE (replica identity full).
create table public.notes (
  id bigint generated always as identity primary key,
  owner_id uuid not null,
  title text not null,
  score integer not null default 0,
  tags text[] not null default '{}',
  data jsonb
);
alter table public.notes enable row level security;
create policy "own notes" on public.notes for select to authenticated using (auth.uid() = owner_id);
alter table public.notes replica identity full;
alter publication supabase_realtime add table public.notes;

-- Anyone may read published posts; default replica identity (old record = primary key).
create table public.posts (
  id bigint generated always as identity primary key,
  author_id uuid,
  body text not null,
  published boolean not null default false
);
alter table public.posts enable row level security;
create policy "published posts" on public.posts for select using (published);
alter publication supabase_realtime add table public.posts;

-- Not in the publication (until a test adds it).
create table public.drafts (
  id bigint generated always as identity primary key,
  body text not null
);

-- For the benchmark-like fan-out test: every signed-in user may read every row.
create table public.feed (
  id bigint generated always as identity primary key,
  author_id uuid,
  body text not null
);
alter table public.feed enable row level security;
create policy "signed-in users read the feed" on public.feed for select to authenticated
  using (auth.uid() is not null);
alter publication supabase_realtime add table public.feed;

-- Private channels (Realtime Authorization), as on Supabase: RLS on realtime.messages.
-- Signed-in users read (broadcast and presence) the lobby and their own room; they may broadcast
-- in the lobby and in their room, and track presence in their room only.
create policy "read the lobby and one's room" on realtime.messages for select to authenticated
  using (realtime.topic() = 'lobby' or realtime.topic() = 'room:' || auth.uid()::text);
create policy "broadcast in the lobby and one's room" on realtime.messages for insert to authenticated
  with check ((realtime.topic() = 'lobby' and extension = 'broadcast')
              or realtime.topic() = 'room:' || auth.uid()::text);
