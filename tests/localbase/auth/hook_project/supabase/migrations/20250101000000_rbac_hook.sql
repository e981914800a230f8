-- Role-based access with a custom access token hook, as in Supabase's RBAC guide: the user's
-- role from a table goes into the token as the `user_role` claim; a banned address is refused.
create table public.user_roles (
  user_id uuid primary key references auth.users (id) on delete cascade,
  role text not null check (role in ('admin', 'moderator'))
);
alter table public.user_roles enable row level security;

create function public.custom_access_token_hook(event jsonb)
returns jsonb
language plpgsql
stable
as $$
declare
  claims jsonb := event -> 'claims';
  user_role text;
begin
  if claims ->> 'email' like '%@banned.example' then
    return jsonb_build_object('error', jsonb_build_object('http_code', 403, 'message', 'This address is banned'));
  end if;
  select role into user_role from public.user_roles where user_id = (event ->> 'user_id')::uuid;
  claims := jsonb_set(claims, '{user_role}', coalesce(to_jsonb(user_role), 'null'::jsonb));
  claims := jsonb_set(claims, '{auth_method}', to_jsonb(event ->> 'authentication_method'));
  return jsonb_build_object('claims', claims);
end;
$$;

grant usage on schema public to supabase_auth_admin;
grant execute on function public.custom_access_token_hook(jsonb) to supabase_auth_admin;
revoke execute on function public.custom_access_token_hook(jsonb) from authenticated, anon, public;
grant select on public.user_roles to supabase_auth_admin;
create policy "the auth server reads roles" on public.user_roles as permissive for select
  to supabase_auth_admin using (true);

-- Data only admins may read, by the claim.
create table public.audit_log (id int primary key, entry text);
alter table public.audit_log enable row level security;
grant select on public.audit_log to authenticated;
create policy "admins read the audit log" on public.audit_log for select to authenticated
  using ((auth.jwt() ->> 'user_role') = 'admin');
insert into public.audit_log values (1, 'who did what');
