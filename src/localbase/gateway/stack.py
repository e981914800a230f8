"""The API's one ASGI stack. Every request passes every stage, outermost first:

  Observe    counts and times the request for /metrics (and writes the access log when it is on)
  BodyLimit  counts a body of unknown length (chunked) against [limits] max_body_bytes: 413 past it
             (gateway/limits.py)
  CORS       for every service (gateway/cors.py): any origin, the headers Supabase's clients read
             exposed, preflights answered here
  ApiKey     the gateway's key check (gateway/apikey.py)
  Services   /rest/v1 to the REST pipeline (rest/routes.handle) after one prefix test; every other
             path to the Starlette app: its routes, exception handlers and the lifespan. With read
             replicas, a request that may have written marks its session before its answer starts
             (rest/replica_reads.py), whichever service answered it

The stages run in one coroutine per request (`Gateway`), each a call into its own module, not as
nested middleware: a layer of middleware is a coroutine frame resumed at every await below it, and
a wrapped `send` a call per message. A REST answer is sent from here, its headers rewritten for
CORS once, with no `send` wrapped at all; the Starlette app's answers pass one wrapper, which does
what each stage does to an answer (Observe's status, BodyLimit's drop after a cut body, CORS's
headers, the replica mark).

REST goes to its handler without Starlette's router and exception layers (about 12% of a small
request's CPU, benchmarks/rest.py): its handler answers every error itself, in PostgREST's shape."""

from __future__ import annotations

from time import perf_counter

from starlette.applications import Starlette
from starlette.requests import Request

from localbase.gateway.apikey import KeyCheck, close_socket, refused
from localbase.gateway.cors import Cors
from localbase.gateway.limits import BodyCounter, unknown_length
from localbase.gateway.metrics import RequestMetrics, service_of
from localbase.rest import routes as rest_routes
from localbase.rest.replica_reads import mark_if_writing

REST = "/rest/v1"


class Gateway:
    """The stages above, for every HTTP request, socket and the lifespan."""

    def __init__(self, app: Starlette, *, metrics: RequestMetrics, cors: Cors, keys: KeyCheck, max_body: int,
                 keyring):
        self.app = app
        self.state = app.state  # the Starlette app's (the settings, the database, the caches)
        self.metrics = metrics
        self.cors = cors
        self.keys = keys
        self.max_body = max_body
        self.keyring = keyring
        self.access_log = None  # a callable(scope, service, status, seconds) when access logs are on

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                self.metrics.websockets[service_of(scope["path"])] += 1  # Observe
                refusal = self.keys.refusal(scope)  # (CORS leaves sockets alone) ApiKey
                if refusal is not None:
                    return await close_socket(send, refusal[0])
            return await self.app(scope, receive, send)  # Services: sockets and the lifespan
        began = perf_counter()  # Observe
        status = 500  # what the server answers when a stage raises before the response starts
        answered = False  # an answer started (not one BodyLimit dropped)
        counter = None
        try:
            if unknown_length(scope):  # BodyLimit
                counter = BodyCounter(receive, self.max_body)
                receive = counter.receive
            try:
                origin, preflight = self.cors.request(scope)  # CORS
                if preflight is not None:
                    status, headers, body = self.cors.preflight(preflight)
                    answered = True
                    await send({"type": "http.response.start", "status": status, "headers": headers})
                    await send({"type": "http.response.body", "body": body})
                elif (refusal := self.keys.refusal(scope)) is not None:  # ApiKey
                    status, headers, body = refused(*refusal)
                    answered = True
                    await send({"type": "http.response.start", "status": status,
                                "headers": self.cors.answer_headers(headers, origin)})
                    await send({"type": "http.response.body", "body": body})
                elif _is_rest(path := scope["path"]):  # Services
                    scope["app"] = self.app  # the handler reads the app's state, as under Starlette's router
                    scope["path_params"] = {"path": path[len(REST) + 1:]}
                    response = await rest_routes.handle(Request(scope, receive))
                    # committed; before the client hears it (the state's dict: Starlette's State answers an
                    # attribute only after the ordinary lookup has failed)
                    mark_if_writing(self.state._state["reads"], scope, self.keyring)
                    if counter is None or not counter.tripped:
                        status = response.status_code
                        answered = True
                        await send({"type": "http.response.start", "status": status,
                                    "headers": self.cors.answer_headers(response.raw_headers, origin)})
                        await send({"type": "http.response.body", "body": response.body})
                        if response.background is not None:
                            await response.background()
                else:
                    reads = self.state.reads

                    async def send_answer(message) -> None:
                        nonlocal status, answered
                        start = message["type"] == "http.response.start"
                        if start and reads is not None:
                            mark_if_writing(reads, scope, self.keyring)
                        if counter is not None and counter.tripped:
                            return  # whatever the app answers to the cut body, the client gets the 413 below
                        if start:
                            status = message["status"]
                            answered = True
                            message["headers"] = self.cors.answer_headers(message.get("headers", ()), origin)
                        await send(message)

                    await self.app(scope, receive, send_answer)
            except Exception:
                if counter is None or not counter.tripped:
                    raise
            if counter is not None and counter.tripped and not answered:
                start_message, body_message = counter.refusal(scope["path"])
                status = 413
                await send(start_message)
                await send(body_message)
        finally:
            elapsed = perf_counter() - began
            service = service_of(scope["path"])
            self.metrics.observe(service, status, elapsed)
            if self.access_log is not None:
                self.access_log(scope, service, status, elapsed)


def _is_rest(path: str) -> bool:
    return path.startswith(REST) and (len(path) == len(REST) or path[len(REST)] == "/")
