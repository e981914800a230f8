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
about a twentieth of a small REST read's CPU went to the general middleware. The gateway calls the
parts in its one frame per request (gateway/stack.py): `request` (is it a preflight, has it an
Origin), `preflight` (the answer to one) and `answer_headers` (an answer's headers, rewritten);
`Cors` as an ASGI app is the stage on its own, over those same parts (tests compare it with
Starlette's CORSMiddleware)."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.middleware.cors import ALL_METHODS

_VARY = b"vary"
_PREFLIGHT_VARY = (b"Origin, Access-Control-Request-Method, Access-Control-Request-Headers, "
                   b"Access-Control-Request-Private-Network")
_METHODS = frozenset(ALL_METHODS)
# what a preflight asks: Access-Control-Request-Method, -Headers and -Private-Network
Preflight = tuple[bytes, bytes | None, bytes | None]


class Cors:
    def __init__(self, app, expose_headers: Iterable[str], max_age: int):
        self.app = app  # what the stage on its own (as an ASGI app) wraps; None in the gateway
        self._simple = ((b"access-control-allow-origin", b"*"),
                        (b"access-control-expose-headers", ", ".join(expose_headers).encode("latin-1")))
        self._simple_names = frozenset(name for name, _ in self._simple)
        self._preflight = [(b"vary", _PREFLIGHT_VARY), (b"access-control-allow-origin", b"*"),
                           (b"access-control-allow-methods", ", ".join(ALL_METHODS).encode("latin-1")),
                           (b"access-control-max-age", str(max_age).encode("latin-1"))]

    @staticmethod
    def request(scope) -> tuple[bool, Preflight | None]:
        """(whether the request has an Origin, the preflight it asks for or None): an HTTP request's
        headers scanned once, the first of a repeated header kept, as Starlette reads them."""
        origin = requested_method = requested_headers = private_network = None
        for name, value in scope["headers"]:
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
            return True, (requested_method, requested_headers, private_network)
        return origin is not None, None

    def answer_headers(self, headers: Iterable[tuple[bytes, bytes]], origin: bool) -> list[tuple[bytes, bytes]]:
        """An answer's start headers with CORS's: `Vary: Origin` joined to its own Vary, and with an
        Origin, the allowed origin and the exposed headers in place of any the answer set."""
        out, vary = [], []
        replaced = self._simple_names if origin else ()
        for pair in headers:
            name = pair[0].lower()
            if name == _VARY:
                vary.append(pair[1])
            elif name not in replaced:
                out.append(pair)
        if origin:
            out.extend(self._simple)
        vary.append(b"Origin")
        out.append((_VARY, b", ".join(vary)))
        return out

    def preflight(self, asked: Preflight) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """The answer to a preflight: (status, headers, body)."""
        method, requested_headers, private_network = asked
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
        return 400 if failures else 200, headers, body

    async def __call__(self, scope, receive, send):
        """The stage on its own, as ASGI middleware around `app`."""
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        origin, asked = self.request(scope)
        if asked is not None:
            status, headers, body = self.preflight(asked)
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return None

        async def send_with_cors(message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = self.answer_headers(message.get("headers", ()), origin)
            await send(message)

        return await self.app(scope, receive, send_with_cors)
