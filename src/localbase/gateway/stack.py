"""The API's one ASGI stack. Every request passes every stage, outermost first:

  Observe    counts and times the request for /metrics (and writes the access log when it is on)
  BodyLimit  counts a body of unknown length (chunked) against [limits] max_body_bytes: 413 past it
  CORS       for every service (gateway/cors.py): any origin, the headers Supabase's clients read
             exposed, preflights answered here
  ApiKey     the gateway's key check (gateway/apikey.py)
  Services   /rest/v1 to the REST pipeline (rest/routes.handle) after one prefix test; every other
             path to the Starlette app: its routes, exception handlers and the lifespan. With read
             replicas, a request that may have written marks its session before its answer starts
             (rest/replica_reads.py), whichever service answered it

REST goes to its handler without Starlette's router and exception layers (about 12% of a small
request's CPU, benchmarks/rest.py): its handler answers every error itself, in PostgREST's shape."""

from __future__ import annotations

from time import perf_counter

from starlette.applications import Starlette
from starlette.requests import Request

from localbase.gateway.limits import call_with_body_limit, unknown_length
from localbase.gateway.metrics import RequestMetrics, service_of
from localbase.rest import routes as rest_routes
from localbase.rest.replica_reads import mark_if_writing

REST = "/rest/v1"


class Observe:
    """The outermost stage: each HTTP request counted by service and status class, and timed."""

    def __init__(self, app, metrics: RequestMetrics, state):
        self.app = app
        self.metrics = metrics
        self.state = state  # the Starlette app's (the settings, the database, the caches)
        self.access_log = None  # a callable(scope, service, status, seconds) when access logs are on

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                self.metrics.websockets[service_of(scope["path"])] += 1
            return await self.app(scope, receive, send)
        started = perf_counter()
        status = 500  # what the server answers when a stage raises before the response starts

        async def send_status(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            elapsed = perf_counter() - started
            service = service_of(scope["path"])
            self.metrics.observe(service, status, elapsed)
            if self.access_log is not None:
                self.access_log(scope, service, status, elapsed)


class BodyLimit:
    def __init__(self, app, max_body: int):
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and unknown_length(scope):
            return await call_with_body_limit(self.app, scope, receive, send, self.max_body)
        return await self.app(scope, receive, send)


class Services:
    """The innermost stage: which service answers."""

    def __init__(self, app: Starlette, keyring):
        self.app = app
        self.keyring = keyring

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        reads = self.app.state.reads
        if path.startswith(REST) and (len(path) == len(REST) or path[len(REST)] == "/"):
            scope["app"] = self.app  # the handler reads the app's state, as under Starlette's router
            scope["path_params"] = {"path": path[len(REST) + 1:]}
            response = await rest_routes.handle(Request(scope, receive))
            mark_if_writing(reads, scope, self.keyring)  # committed; before the client hears it
            return await response(scope, receive, send)
        if reads is None:
            return await self.app(scope, receive, send)

        async def marking_send(message) -> None:
            if message["type"] == "http.response.start":
                mark_if_writing(reads, scope, self.keyring)
            await send(message)

        return await self.app(scope, receive, marking_send)
