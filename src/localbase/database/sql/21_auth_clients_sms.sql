-- Localbase bootstrap, part 3b: GoTrue's OAuth 2.1 server clients (auth.oauth_clients, its
-- layout: redirect URIs and grant types comma-separated, the secret's SHA-256 only), and the
-- local SMS outbox that stands in for an SMS provider. Idempotent: runs at every start.

set local role supabase_auth_admin;

do $$
begin
  if not exists (select 1 from pg_type t join pg_namespace n on n.oid = t.typnamespace
                 where n.nspname = 'auth' and t.typname = 'oauth_registration_type') then
    create type auth.oauth_registration_type as enum ('dynamic', 'manual');
  end if;
  if not exists (select 1 from pg_type t join pg_namespace n on n.oid = t.typnamespace
                 where n.nspname = 'auth' and t.typname = 'oauth_client_type') then
    create type auth.oauth_client_type as enum ('public', 'confidential');
  end if;
end
$$;

create table if not exists auth.oauth_clients (
  id uuid not null primary key,
  client_secret_hash text,
  registration_type auth.oauth_registration_type not null,
  redirect_uris text not null,
  grant_types text not null,
  client_name text,
  client_uri text,
  logo_uri text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz,
  client_type auth.oauth_client_type not null default 'confidential',
  token_endpoint_auth_method text not null,
  constraint oauth_clients_client_name_length check (char_length(client_name) <= 1024),
  constraint oauth_clients_client_uri_length check (char_length(client_uri) <= 2048),
  constraint oauth_clients_logo_uri_length check (char_length(logo_uri) <= 2048)
);
create index if not exists oauth_clients_deleted_at_idx on auth.oauth_clients (deleted_at);

-- Localbase only: text messages (one-time codes) the auth service would send, kept for the
-- developer to read (GET /auth/v1/localbase/outbox with the service_role key).
create table if not exists auth.localbase_sms_outbox (
  id bigserial primary key,
  created_at timestamptz not null default now(),
  recipient text not null,
  body text not null,
  sms_type text not null,
  otp text not null
);
create index if not exists localbase_sms_outbox_recipient_idx on auth.localbase_sms_outbox (recipient, id desc);

reset role;
