-- Localbase bootstrap, part 5: the nodes of a deployment (docs/scale-out.md). Idempotent.
--
-- Every Localbase process (each node, each of its --workers) keeps one row here while it runs
-- (and after, until the others clean up after it: nodes/reaper.py): which replication slot it
-- streams, a fingerprint of its keys, and a lease it renews every [nodes] heartbeat_seconds on a
-- session it holds open. A process is alive while that session
-- exists (PostgreSQL ends it at once when the process dies and its host closes the socket) and its
-- lease has not run out (a frozen process, or a host cut off from the network).
-- Unlogged: liveness is worth nothing after a crash, and heartbeats write no WAL.
-- Other nodes may be serving while this runs: what exists already is left alone (no lock taken).

create schema if not exists localbase;
revoke all on schema localbase from public;
grant usage on schema localbase to supabase_realtime_admin;

create unlogged table if not exists localbase.nodes (
  id uuid primary key,             -- one process, for as long as it runs
  node text not null,              -- --node-id ('' for an unnamed node)
  worker integer not null,         -- the API worker's index (--workers)
  slot text,                       -- the replication slot it streams (null: Realtime off)
  host text not null,
  pid integer not null,            -- the OS process
  api_url text not null,
  backend_pid integer not null,    -- its member session (pg_stat_activity.pid)
  backend_start timestamptz not null,
  keys text not null,              -- fingerprint of the keys it signs and accepts with
  version text not null,
  started_at timestamptz not null default now(),
  seen_at timestamptz not null default now(),
  lease_until timestamptz not null
);

-- Alive: the member session is there (same role for every member, so its row is visible) and the
-- lease runs. Version 1 of the view (its comment): re-created only when the version changes.
do $$
begin
  if to_regclass('localbase.nodes_node_worker_idx') is null then
    create index nodes_node_worker_idx on localbase.nodes (node, worker);
  end if;
  if (select relowner from pg_class where oid = 'localbase.nodes'::regclass) <> 'supabase_realtime_admin'::regrole then
    alter table localbase.nodes owner to supabase_realtime_admin;
  end if;
  if coalesce(obj_description(to_regclass('localbase.node_status'), 'pg_class'), '') <> 'localbase node_status v1' then
    create or replace view localbase.node_status as
    select n.*,
           n.lease_until > now()
           and exists (select 1 from pg_stat_activity a
                        where a.pid = n.backend_pid and a.backend_start = n.backend_start) as alive
      from localbase.nodes n;
    alter view localbase.node_status owner to supabase_realtime_admin;
    comment on view localbase.node_status is 'localbase node_status v1';
  end if;
  -- A subscription's positions looked up by key whether connected or not (resuming the
  -- subscription of a node that died holding it).
  if to_regclass('realtime.subscription_positions_key_all_idx') is null then
    create index subscription_positions_key_all_idx on realtime.subscription_positions (key);
  end if;
end
$$;
