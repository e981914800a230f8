-- A policy reading a request header, as Supabase's docs write them (current_setting('request.headers')):
-- the objects of 'header-gated' are read and uploaded only by requests sending `x-gate: open`.
insert into storage.buckets (id, name, public) values ('header-gated', 'header-gated', false);

create policy "Gated reads" on storage.objects for select to authenticated
  using (bucket_id = 'header-gated' and current_setting('request.headers', true)::json ->> 'x-gate' = 'open');
create policy "Gated uploads" on storage.objects for insert to authenticated
  with check (bucket_id = 'header-gated' and current_setting('request.headers', true)::json ->> 'x-gate' = 'open');
