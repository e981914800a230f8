"""Localbase Studio: the admin web page served by `localbase start` on its own port (54323).

Server-rendered (Starlette + Jinja templates, a small script of our own; no build step). It talks to
the database through the API's own pool and role switching: table rows and users through the REST
and Auth services in-process as the service role, SQL "run as" through REST's execute stage.

This package's top level stays light: localbase.settings imports studio.config at every start."""
