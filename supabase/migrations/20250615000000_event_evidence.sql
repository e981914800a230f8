-- Evidence files attached to efficiency events, in Storage: bucket `efficiency-evidence` (private),
-- objects named <citizen id>/<event id>/<file name>. The citizen who owns the event and their
-- supervisors (transitively) read them; only the owner writes, and only under their own events.
-- The same helpers as the tables' policies; valid on Supabase as on Localbase.

insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
values ('efficiency-evidence', 'efficiency-evidence', false, 10485760,
        array['image/png', 'image/jpeg', 'image/webp', 'application/pdf', 'text/plain', 'text/csv'])
on conflict (id) do nothing;

create policy "evidence: owner and supervisors read" on storage.objects for select to authenticated
  using (bucket_id = 'efficiency-evidence'
         and (storage.foldername(name))[1] in (select v::text from public.visible_citizen_ids() as v));

-- Only under one of the owner's own events (the events policy shows the caller its own and its
-- subordinates'; the citizen_id test keeps the owner's).
create policy "evidence: owner attaches to own events" on storage.objects for insert to authenticated
  with check (bucket_id = 'efficiency-evidence'
              and (storage.foldername(name))[1] = (select public.current_citizen_id()::text)
              and (storage.foldername(name))[2] in (
                select e.id::text from public.efficiency_events e
                 where e.citizen_id = (select public.current_citizen_id())));

create policy "evidence: owner replaces" on storage.objects for update to authenticated
  using (bucket_id = 'efficiency-evidence'
         and (storage.foldername(name))[1] = (select public.current_citizen_id()::text))
  with check (bucket_id = 'efficiency-evidence'
              and (storage.foldername(name))[1] = (select public.current_citizen_id()::text));

create policy "evidence: owner removes" on storage.objects for delete to authenticated
  using (bucket_id = 'efficiency-evidence'
         and (storage.foldername(name))[1] = (select public.current_citizen_id()::text));
