"""CORS for every service: any origin, any method, any header, without credentials (as Supabase's
gateway answers browsers).

What it answers is what Starlette's CORSMiddleware answers with allow_origins, allow_methods and
allow_headers "*" (tests/localbase/gateway/test_cors_stage.py compares the two on every kind of
request): a preflight (OPTIONS with Origin and Access-Control-Request-Method) is answered here,
200 "OK" with the allowed methods, the requested headers mirrored and a max age, or 400 for a
method no service has or a private-network request; every other answer gets `Vary: Origin`, and
when the request has an Origin, `Access-Control-Allow-Origin: *` and the exposed headers.

It is on every request's path, so the headers are encoded once, the request's are scanned as the
server hands them (no header objects), and the answer's start message is rewritten in one pass:
about a twentieth of a small REST read's CPU went to the general middleware."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.middleware.cors import ALL_METHODS

_VARY = b"vary"
_PREFLIGHT_VARY = (b"Origin, Access-Control-Request-Method, Access-Control-Request-Headers, "
                   b"Access-Control-Request-Private-Network")
_METHODS = frozenset(ALL_METHODS)


class Cors:
    def __init__(self, app, expose_headers: Iterable[str], max_age: int):
        self.app = app
        self._simple = ((b"access-control-allow-origin", b"*"),
                        (b"access-control-expose-headers", ", ".join(expose_headers).encode("latin-1")))
        self._simple_names = frozenset(name for name, _ in self._simple)
        self._preflight = [(b"vary", _PREFLIGHT_VARY), (b"access-control-allow-origin", b"*"),
                           (b"access-control-allow-methods", ", ".join(ALL_METHODS).encode("latin-1")),
                           (b"access-control-max-age", str(max_age).encode("latin-1"))]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        origin = requested_method = requested_headers = private_network = None
        for name, value in scope["headers"]:  # the first of a repeated header, as Starlette reads it
            if name == b"origin":
                origin = value if origin is None else origin
            elif name[:15] == b"access-control-":
                if name == b"access-control-request-method":
                    requested_method = value if requested_method is None else requested_method
                elif name == b"access-control-request-headers":
                    requested_headers = value if requested_headers is None else requested_headers
                elif name == b"access-control-request-private-network":
                    private_network = value if private_network is None else private_network
        if origin is not None and requested_method is not None and scope["method"] == "OPTIONS":
            return await self._preflight_answer(send, requested_method, requested_headers, private_network)
        simple = self._simple if origin is not None else ()
        replaced = self._simple_names if origin is not None else frozenset()

        async def send_with_cors(message) -> None:
            if message["type"] == "http.response.start":
                headers, vary = [], []
                for pair in message.get("headers", ()):
                    name = pair[0].lower()
                    if name == _VARY:
                        vary.append(pair[1])
                    elif name not in replaced:
                        headers.append(pair)
                headers.extend(simple)
                vary.append(b"Origin")
                headers.append((_VARY, b", ".join(vary)))
                message["headers"] = headers
            await send(message)

        return await self.app(scope, receive, send_with_cors)

    async def _preflight_answer(self, send, method: bytes, requested_headers: bytes | None,
                                private_network: bytes | None) -> None:
        headers = list(self._preflight)
        failures = []
        if method.decode("latin-1") not in _METHODS:
            failures.append("method")
        if requested_headers is not None:
            headers.append((b"access-control-allow-headers", requested_headers))
        if private_network is not None:
            failures.append("private-network")
        body = ("Disallowed CORS " + ", ".join(failures)).encode() if failures else b"OK"
        headers += [(b"content-length", str(len(body)).encode()), (b"content-type", b"text/plain; charset=utf-8")]
        await send({"type": "http.response.start", "status": 400 if failures else 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
