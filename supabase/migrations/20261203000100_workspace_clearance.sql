-- Workspaces: an owner may raise a workspace's clearance requirement only up to their own clearance
-- (as when creating one), and adding a member never tells the owner that member's clearance.

drop policy "workspaces: owners update" on public.efficiency_workspaces;
create policy "workspaces: owners update at own clearance" on public.efficiency_workspaces
  for update to authenticated
  using (owner_id = (select public.current_citizen_id()))
  with check (owner_id = (select public.current_citizen_id())
              and clearance_requirement <= (select c.clearance_level from public.citizens c
                                             where c.id = (select public.current_citizen_id())));

-- The same function, with an answer that names the workspace's requirement (the owner set it) but
-- not the member's clearance (theirs to know, and the operators').
create or replace function public.add_workspace_member(p_workspace uuid, p_citizen_id text)
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
    raise exception 'the workspace requires % clearance, which citizen % does not hold',
      ws.clearance_requirement, p_citizen_id
      using errcode = '42501', hint = 'an operator grants clearance';
  end if;
  insert into public.workspace_members (workspace_id, citizen_id) values (p_workspace, member.id)
  returning * into added;
  return added;
end $$;
