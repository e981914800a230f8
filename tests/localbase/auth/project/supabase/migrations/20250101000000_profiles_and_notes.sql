-- The common Supabase pattern: a profile row created by a trigger on auth.users, and a table
-- whose rows only their owner can read or write (RLS with auth.uid()).

create table public.profiles (
  id uuid primary key references auth.users (id) on delete cascade,
  email text,
  display_name text,
  created_at timestamptz not null default now()
);
alter table public.profiles enable row level security;
create policy "own profile" on public.profiles for select to authenticated using (auth.uid() = id);

create function public.handle_new_user() returns trigger
language plpgsql security definer set search_path = ''
as $$
begin
  insert into public.profiles (id, email, display_name)
  values (new.id, new.email, new.raw_user_meta_data ->> 'display_name');
  return new;
end;
$$;

create trigger on_auth_user_created
  after insert on auth.users
  for each row execute procedure public.handle_new_user();

create table public.notes (
  id bigint generated always as identity primary key,
  owner uuid not null default auth.uid() references auth.users (id) on delete cascade,
  body text not null
);
alter table public.notes enable row level security;
create policy "read own notes" on public.notes for select to authenticated using (auth.uid() = owner);
create policy "write own notes" on public.notes for insert to authenticated with check (auth.uid() = owner);

-- what the access token carried, as SQL sees it
create function public.whoami() returns jsonb
language sql stable
as $$ select jsonb_build_object('uid', auth.uid(), 'role', auth.role(), 'email', auth.email(),
                                'is_anonymous', (auth.jwt() ->> 'is_anonymous')::boolean,
                                'aal', auth.jwt() ->> 'aal') $$;
