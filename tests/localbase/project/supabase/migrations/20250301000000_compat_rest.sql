-- Fixtures for PostgREST behaviours the postgrest-js suite checks (issue 13).

-- Functions with one unnamed parameter take the request body whole; overloads resolve as PostgREST.
create function shout(text) returns text language sql immutable as $$ select upper($1) $$;
create function json_keys(json) returns int language sql immutable as $$ select count(*)::int from json_object_keys($1) $$;
create function byte_size(bytea) returns int language sql immutable as $$ select length($1) $$;
create function pick() returns text language sql immutable as $$ select 'none' $$;
create function pick(text) returns text language sql immutable as $$ select 'text: ' || $1 $$;
create function pick(int) returns text language sql immutable as $$ select 'int' $$;  -- not callable: unnamed int
create function twin(a text) returns text language sql immutable as $$ select 'text' $$;
create function twin(a int) returns text language sql immutable as $$ select 'int' $$;

-- A function returning one row (not a set) answers an object, or null.
create function country_by_code(c text) returns countries language sql stable as $$
  select * from countries where code = c
$$;

-- Computed fields apply to a function's rows as to the table's.
create function big_countries_named(pattern text) returns setof countries language sql stable as $$
  select * from countries where name like pattern
$$;
