-- Applied once, on a new database: the tests count its rows (several nodes started at once).
insert into public.seed_runs default values;
