"""The API's hot path: /rest/v1 requests go from the server straight to the REST handler, with the
same key check and CORS headers as every other path, but without Starlette's routing and
exception layers (they cost ~12% of a small request's CPU). Everything else, the lifespan
included, goes to the full app."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request

from localbase.gateway.apikey import ApiKeys, reject
from localbase.rest import routes as rest_routes
from localbase.settings import Settings

PREFIX = "/rest/v1/"


class RestFastPath:
    def __init__(self, app: Starlette, settings: Settings, exposed_headers: list[str]):
        self.app = app
        self.keys = ApiKeys(settings)
        self.expose = ", ".join(exposed_headers)

    @property
    def state(self):
        return self.app.state

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] == "OPTIONS" or not scope["path"].startswith(PREFIX):
            return await self.app(scope, receive, send)
        verdict = self.keys.check(scope)
        if isinstance(verdict, tuple):
            return await reject(scope, send, *verdict)
        scope.setdefault("state", {})["apikey_role"] = verdict
        scope["app"] = self.app
        scope["path_params"] = {"path": scope["path"][len(PREFIX):]}
        response = await rest_routes.handle(Request(scope, receive))
        if any(name == b"origin" for name, _ in scope["headers"]):  # as CORSMiddleware (allow all)
            response.headers["access-control-allow-origin"] = "*"
            response.headers["access-control-expose-headers"] = self.expose
        await response(scope, receive, send)
