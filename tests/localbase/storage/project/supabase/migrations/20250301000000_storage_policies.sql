-- Policies as Supabase's Storage docs write them, unchanged.

insert into storage.buckets (id, name, public) values
  ('private-files', 'private-files', false),
  ('avatars', 'avatars', true);

-- "Allow users to manage files in a folder named by their user id" (private-files)
create policy "Users read their own folder" on storage.objects for select to authenticated
  using (bucket_id = 'private-files' and (storage.foldername(name))[1] = (select auth.uid()::text));
create policy "Users upload to their own folder" on storage.objects for insert to authenticated
  with check (bucket_id = 'private-files' and (storage.foldername(name))[1] = (select auth.uid()::text));
create policy "Users update their own folder" on storage.objects for update to authenticated
  using (bucket_id = 'private-files' and (storage.foldername(name))[1] = (select auth.uid()::text))
  with check (bucket_id = 'private-files' and (storage.foldername(name))[1] = (select auth.uid()::text));
create policy "Users delete their own folder" on storage.objects for delete to authenticated
  using (bucket_id = 'private-files' and (storage.foldername(name))[1] = (select auth.uid()::text));

-- "Public avatars": anyone may read the public bucket's rows; signed-in users upload and manage
-- their own (owner_id is set by Storage to the uploader's auth.uid()).
create policy "Avatars are readable by anyone" on storage.objects for select
  using (bucket_id = 'avatars');
create policy "Users upload avatars" on storage.objects for insert to authenticated
  with check (bucket_id = 'avatars' and storage.extension(name) in ('png', 'jpg', 'txt'));
create policy "Owners update avatars" on storage.objects for update to authenticated
  using (bucket_id = 'avatars' and owner_id = (select auth.uid()::text));
create policy "Owners delete avatars" on storage.objects for delete to authenticated
  using (bucket_id = 'avatars' and owner_id = (select auth.uid()::text));

-- Signed-in users see the buckets.
create policy "Authenticated users see buckets" on storage.buckets for select to authenticated using (true);
