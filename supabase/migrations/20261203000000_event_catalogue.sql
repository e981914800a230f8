-- The event catalogue: which efficiency events exist, how far each may move a score, and who may
-- record it. The database enforces it on every insert, whatever the client (the hub's API, raw REST
-- with a user's own JWT, the service role), so a citizen never sets their own score: they record
-- what the catalogue lets them, within its range, and at most `self_daily_gain` points a day.

-- Who records an event, as the database sees the inserting role:
--   self        a signed-in citizen, for themselves
--   supervisor  a signed-in citizen, for someone below them in the hierarchy
--   monitor     the service role answering an earlier event (the row names it in `triggered_by`)
--   service     the service role otherwise (operators, imports), or a database session without a JWT
create type public.event_recorder as enum ('self', 'supervisor', 'monitor', 'service');

create table public.event_types (
  event_type text primary key check (event_type ~ '^[a-z][a-z0-9_]{0,63}$'),
  description text not null check (length(trim(description)) between 1 and 500),
  min_delta numeric(6, 2) not null check (min_delta between -100 and 100),
  max_delta numeric(6, 2) not null check (max_delta between -100 and 100),
  recorded_by public.event_recorder[] not null check (cardinality(recorded_by) > 0),
  -- the most a citizen may add to their own score with this type in any 24 hours (null: no cap)
  self_daily_gain numeric(6, 2) check (self_daily_gain >= 0),
  check (min_delta <= max_delta)
);

insert into public.event_types (event_type, description, min_delta, max_delta, recorded_by, self_daily_gain) values
  ('task_completed', 'a task done', 0, 10, '{self,service}', 20),
  ('report_filed', 'a report handed in', 0, 5, '{self,service}', 10),
  ('review_done', 'a review given', 0, 5, '{self,supervisor,service}', 10),
  ('slip', 'a small mistake', -5, 0, '{self,supervisor,service}', null),
  ('missed_deadline', 'a deadline missed', -30, 0, '{self,supervisor,service}', null),
  ('outage', 'an outage caused or suffered', -50, 0, '{self,supervisor,service}', null),
  ('commendation', 'praise from a supervisor', 0, 20, '{supervisor,service}', null),
  ('reprimand', 'a reprimand from a supervisor', -30, 0, '{supervisor,service}', null),
  ('score_adjustment', 'a correction by an operator', -100, 100, '{service}', null),
  ('automated_intervention', 'the monitor''s answer to a bad event', 0, 25, '{monitor}', null);

alter table public.event_types enable row level security;
create policy "event types: readable by signed-in users" on public.event_types for select to authenticated
  using (true);
revoke all on public.event_types from anon;
revoke insert, update, delete, truncate on public.event_types from authenticated;

-- Every event now names its type in the catalogue, and says who recorded it (set by the database).
alter table public.efficiency_events add column recorded_by public.event_recorder;
alter table public.efficiency_events
  add constraint efficiency_events_event_type_fkey foreign key (event_type) references public.event_types (event_type)
  not valid;  -- events recorded before the catalogue keep their free-form types
create index efficiency_events_event_type_idx on public.efficiency_events (event_type);
create index efficiency_events_self_gain_idx on public.efficiency_events (citizen_id, event_type, created_at)
  where recorded_by = 'self' and efficiency_delta > 0;

-- Serializes the caller's own events (the score trigger locks the same row), so that a daily cap is
-- checked against every event committed before this one. Only ever the caller's own row.
create function public.lock_own_citizen() returns void
language plpgsql volatile security definer set search_path = '' as $$
begin
  perform 1 from public.citizens where user_id = auth.uid() for update;
end $$;
revoke all on function public.lock_own_citizen() from public, anon;
grant execute on function public.lock_own_citizen() to authenticated;

-- SECURITY INVOKER on purpose: `current_user` is the role the request runs as (authenticated,
-- service_role, or a database owner), which the client cannot choose.
create function public.check_event_against_catalogue() returns trigger
language plpgsql set search_path = '' as $$
declare
  kind public.event_types;
  recorder public.event_recorder;
  trigger_event record;
  gained numeric;
begin
  select * into kind from public.event_types where event_type = new.event_type;
  if not found then
    raise exception 'unknown event type "%"', new.event_type using errcode = '23514',
      hint = 'the types are listed in public.event_types';
  end if;

  if current_user = 'authenticated' then
    if new.citizen_id = public.current_citizen_id() then
      recorder := 'self';
    elsif new.citizen_id in (select public.visible_citizen_ids()) then
      recorder := 'supervisor';
    else
      raise exception 'you record events only for yourself and the citizens you supervise'
        using errcode = '42501';
    end if;
  elsif current_user = 'anon' then
    raise exception 'sign in to record events' using errcode = '42501';
  elsif new.triggered_by is not null then
    recorder := 'monitor';
  else
    recorder := 'service';
  end if;
  if not recorder = any(kind.recorded_by) then
    raise exception '% events are recorded by % only, not by %', kind.event_type,
      array_to_string(kind.recorded_by, ', '), recorder using errcode = '42501';
  end if;
  if new.efficiency_delta is null or new.efficiency_delta not between kind.min_delta and kind.max_delta then
    raise exception 'efficiency_delta % is outside the range of %', trim_scale(new.efficiency_delta),
      kind.event_type using errcode = '23514',
      hint = format('allowed: %s to %s', trim_scale(kind.min_delta), trim_scale(kind.max_delta));
  end if;
  new.recorded_by := recorder;
  if recorder in ('self', 'supervisor') then
    new.created_at := now();  -- a citizen's event happens now: no backdating around the daily cap
  end if;

  -- the monitor answers a bad event of the same citizen, never with more than the event took
  if recorder = 'monitor' then
    select e.citizen_id, e.efficiency_delta, e.recorded_by into trigger_event
      from public.efficiency_events e where e.id = new.triggered_by;
    if not found or trigger_event.citizen_id <> new.citizen_id or trigger_event.efficiency_delta >= 0
       or trigger_event.recorded_by = 'monitor' then
      raise exception 'an intervention answers an earlier negative event of the same citizen'
        using errcode = '23514';
    end if;
    if new.efficiency_delta > -trigger_event.efficiency_delta then
      raise exception 'an intervention gives back at most what event % took (%)', new.triggered_by,
        trim_scale(-trigger_event.efficiency_delta) using errcode = '23514';
    end if;
  end if;

  if recorder = 'self' and kind.self_daily_gain is not null and new.efficiency_delta > 0 then
    perform public.lock_own_citizen();
    select coalesce(sum(e.efficiency_delta), 0) into gained
      from public.efficiency_events e
     where e.citizen_id = new.citizen_id and e.event_type = new.event_type and e.recorded_by = 'self'
       and e.efficiency_delta > 0 and e.created_at > now() - interval '24 hours';
    if gained + new.efficiency_delta > kind.self_daily_gain then
      raise exception 'you may add at most % points a day to your own score with %',
        trim_scale(kind.self_daily_gain), kind.event_type using errcode = '23514',
        hint = format('%s added in the last 24 hours', trim_scale(gained));
    end if;
  end if;
  return new;
end $$;
revoke all on function public.check_event_against_catalogue() from public, anon, authenticated;

-- BEFORE triggers fire in name order: the catalogue first, then the score.
alter trigger efficiency_events_apply on public.efficiency_events rename to efficiency_events_2_apply;
create trigger efficiency_events_1_catalogue before insert on public.efficiency_events
  for each row execute function public.check_event_against_catalogue();

-- Supervisors record the catalogue's supervisor events for the citizens below them.
create policy "events: supervisors record for their reports" on public.efficiency_events
  for insert to authenticated
  with check (citizen_id in (select public.visible_citizen_ids())
              and citizen_id <> (select public.current_citizen_id())
              and triggered_by is null);
