insert into countries (name, code, continent) values
  ('France', 'FR', 'Europe'), ('Germany', 'DE', 'Europe'), ('Japan', 'JP', 'Asia'),
  ('Brazil', 'BR', 'South America'), ('Kenya', 'KE', 'Africa');
insert into cities (name, country_id, population, data, tags, founded) values
  ('Paris', 1, 2100000, '{"mayor": {"name": "Anne"}, "rank": 1}', '{capital,big}', '0250-01-01'),
  ('Lyon', 1, 520000, '{"rank": 3}', '{big}', null),
  ('Berlin', 2, 3600000, '{"rank": 2}', '{capital,big}', '1237-01-01'),
  ('Tokyo', 3, 14000000, '{"rank": 1}', '{capital,big,coastal}', null),
  ('Osaka', 3, 2700000, '{}', '{coastal}', null),
  ('Nairobi', 5, 4400000, null, '{capital}', '1899-01-01'),
  ('Toulouse', 1, null, '{}', '{}', null);
insert into capitals values (1, 1), (2, 3), (3, 4), (5, 6);
insert into people (name) values ('Ann'), ('Bob'), ('Cid');
insert into messages (sender_id, receiver_id, body) values (1, 2, 'hi Bob'), (2, 1, 'hi Ann'), (1, 3, 'hey Cid');
insert into actors (name) values ('Keanu'), ('Carrie-Anne'), ('Laurence');
insert into films (title, year) values ('The Matrix', 1999), ('John Wick', 2014);
insert into film_roles values (1, 1, 'Neo'), (2, 1, 'Trinity'), (3, 1, 'Morpheus'), (1, 2, 'John');
insert into articles (title, body) values
  ('Cats and dogs', 'The quick brown fox jumps over the lazy dog'),
  ('Databases', 'PostgreSQL is a powerful relational database'),
  ('Cooking', 'Slow cooked beans taste great');
insert into reservations (room, during) values ('A', '[1,5)'), ('B', '[5,10)'), ('C', '[20,30)');
insert into secrets (value) values ('s1'), ('s2');
insert into inventory.parts (name, stock) values ('bolt', 100), ('nut', 0);
