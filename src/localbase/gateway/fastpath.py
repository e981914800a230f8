"""The API's hot path: /rest/v1 requests go from the server straight to the REST handler, with the
same key check and CORS headers as every other path, but without Starlette's routing and
exception layers (they cost ~12% of a small request's CPU). Everything else, the lifespan
included, goes to the full app.

Being the outermost ASGI app, it is also where every HTTP request is counted and timed for
/metrics (and written to the access log when one is on): the REST path reads the status from its
response, the others through a wrapped `send`."""

from __future__ import annotations

from time import perf_counter

from starlette.applications import Starlette
from starlette.requests import Request

from localbase.gateway.apikey import ApiKeys, reject
from localbase.gateway.limits import call_with_body_limit, unknown_length
from localbase.gateway.metrics import RequestMetrics, service_of
from localbase.rest import routes as rest_routes
from localbase.rest.replica_reads import mark_if_writing
from localbase.settings import Settings

PREFIX = "/rest/v1/"


class RestFastPath:
    def __init__(self, app: Starlette, settings: Settings, exposed_headers: list[str],
                 metrics: RequestMetrics | None = None):
        self.app = app
        self.keys = ApiKeys(settings)
        self.expose = ", ".join(exposed_headers)
        self.metrics = metrics or RequestMetrics()
        self.observe = self.metrics.observe
        self.access_log = None  # a callable(scope, service, status, seconds) when access logs are on
        self.max_body = settings.limits.max_body_bytes
        self.keyring = settings.keyring

    @property
    def state(self):
        return self.app.state

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                self.metrics.websockets[service_of(scope["path"])] += 1
            return await self.app(scope, receive, send)
        started = perf_counter()
        if scope["method"] == "OPTIONS" or not scope["path"].startswith(PREFIX):
            return await self._other(scope, receive, send, started)
        status = 500
        try:
            verdict = self.keys.check(scope)
            if isinstance(verdict, tuple):
                status = 401
                return await reject(scope, send, *verdict)
            scope.setdefault("state", {})["apikey_role"] = verdict
            scope["app"] = self.app
            scope["path_params"] = {"path": scope["path"][len(PREFIX):]}
            response = await rest_routes.handle(Request(scope, receive))
            mark_if_writing(self.app.state.reads, scope, self.keyring)  # committed; before the client hears it
            if any(name == b"origin" for name, _ in scope["headers"]):  # as CORSMiddleware (allow all)
                response.headers["access-control-allow-origin"] = "*"
                response.headers["access-control-expose-headers"] = self.expose
            status = response.status_code
            await response(scope, receive, send)
        finally:
            elapsed = perf_counter() - started
            self.observe("rest", status, elapsed)
            if self.access_log is not None:
                self.access_log(scope, "rest", status, elapsed)

    async def _other(self, scope, receive, send, started: float) -> None:
        status = 500  # what the server answers when the app raises before its response starts

        async def send_status(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                mark_if_writing(self.app.state.reads, scope, self.keyring)
            await send(message)

        service = service_of(scope["path"])
        try:
            if unknown_length(scope):  # a chunked body: counted as it arrives (413 past the limit)
                await call_with_body_limit(self.app, scope, receive, send_status, self.max_body)
            else:
                await self.app(scope, receive, send_status)
        finally:
            elapsed = perf_counter() - started
            self.observe(service, status, elapsed)
            if self.access_log is not None:
                self.access_log(scope, service, status, elapsed)
