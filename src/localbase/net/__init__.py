"""pg_net for Localbase: `net.http_get/post/delete` enqueue in the caller's transaction (bootstrap SQL
database/sql/40_net.sql); the sender (sender.py) sends committed requests and stores responses in
`net._http_response`; service.py starts it with the server."""
