"""Localbase Realtime: Supabase Realtime's protocol (Phoenix channels) with postgres_changes
checked by PostgreSQL's row-level security, broadcast and presence. See docs/realtime.md.

Pipeline: socket (framing) -> channels (join/leave/tokens) ; changes (replication slot) ->
pgoutput (decode) -> authorize (RLS in PostgreSQL) -> fanout (bounded per-socket queues),
with retention (positions, resume) beside it; broadcast and presence between clients."""
