"""The gate in front of every Studio page (ASGI middleware):

1. Host check (DNS rebinding): the Host header must name this machine's loopback, Studio's own
   listen address or one of [studio] allowed_hosts; on a wildcard address (0.0.0.0) without
   allowed_hosts any name passes, the password still required.
2. Session: a cookie (HttpOnly, SameSite=Strict, Secure over TLS). With a password configured
   every page but /login and /static needs an authenticated session (pages redirect to the login
   form, anything else answers 401); without one (loopback only) each browser gets one at once.
3. Mutations (any method but GET/HEAD): the Origin (or else Referer) must be Studio's own, and the
   session's CSRF token must come back in the X-CSRF-Token header (studio.js sends it; the body then
   streams through unread, uploads included) or the csrf_token field of a urlencoded form.
4. Headers on every answer: a strict Content-Security-Policy (scripts from /static only, no
   framing), nosniff, no referrer across origins, and no caching of pages."""

from __future__ import annotations

from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, quote, urlsplit

from localbase.studio.config import StudioSettings, is_wildcard
from localbase.studio.sessions import Session, Sessions

PUBLIC = ("/login", "/static/")
MAX_FORM_BYTES = 4 * 1024 * 1024
LOOPBACK_NAMES = frozenset(("localhost", "127.0.0.1", "::1"))
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'")
SECURITY_HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"), (b"referrer-policy", b"same-origin")]


def cookie_name(scope) -> str:
    server = scope.get("server") or ("", 0)
    return f"localbase_studio_{server[1]}"  # cookies are per host, not per port: one name per Studio


def session_of(request) -> Session:
    return request.scope["state"]["studio_session"]


class Guard:
    def __init__(self, app, studio: StudioSettings, sessions: Sessions) -> None:
        self.app = app
        self.studio = studio
        self.sessions = sessions
        names = set(LOOPBACK_NAMES) | set(studio.allowed_hosts)
        if not is_wildcard(studio.host):
            names.add(studio.host.strip("[]").lower())
        self.any_host = is_wildcard(studio.host) and not studio.allowed_hosts
        self.hosts = frozenset(names)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            return await self.app(scope, receive, send)
        if scope["type"] != "http":
            return await _plain(send, 404, "not found")
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        if not self._host_ok(host):
            return await _plain(send, 421, "Studio does not answer to this Host (add it to [studio] allowed_hosts)")
        path = scope["path"]
        public = path == PUBLIC[0] or path.startswith(PUBLIC[1])
        mutation = scope["method"] not in ("GET", "HEAD")
        secure = scope.get("scheme") == "https"
        if mutation and not _same_origin(headers, host, secure):
            return await _plain(send, 403, "cross-origin request refused")
        session = self.sessions.get(_cookie(headers.get("cookie", ""), cookie_name(scope)))
        new_cookie = None
        if session is None and (public or not self.studio.login_required):
            session = self.sessions.new(authenticated=not self.studio.login_required)
            new_cookie = session.id
        if not public and (session is None or not session.authenticated):
            if scope["method"] == "GET":
                target = path + ("?" + scope["query_string"].decode("latin-1") if scope.get("query_string") else "")
                return await _redirect(send, "/login?next=" + quote(target, safe=""))
            return await _plain(send, 401, "log in to Studio first")
        if mutation:
            token = headers.get("x-csrf-token")
            if token is None and headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
                body, token = await _form_token(receive)  # a plain form post (login, logout)
                if body is None:
                    return await _plain(send, 413, "request too large")
                receive = _replay(body, receive)
            if session is None or not session.csrf_ok(token):
                return await _plain(send, 403, "CSRF token missing or wrong: reload the page")
        scope.setdefault("state", {})["studio_session"] = session
        cookie = _set_cookie(cookie_name(scope), new_cookie, secure) if new_cookie else None
        static = path.startswith(PUBLIC[1])

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                extra = list(SECURITY_HEADERS)
                if not static:
                    extra.append((b"cache-control", b"no-store"))
                if cookie:
                    extra.append((b"set-cookie", cookie))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _host_ok(self, host: str) -> bool:
        if self.any_host:
            return True
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return name.strip("[]").lower() in self.hosts


def _same_origin(headers: dict[str, str], host: str, secure: bool) -> bool:
    own = f"{'https' if secure else 'http'}://{host}"
    origin = headers.get("origin")
    if origin is not None:
        return origin == own
    referer = headers.get("referer")
    if referer:
        parts = urlsplit(referer)
        return f"{parts.scheme}://{parts.netloc}" == own
    return False


def _cookie(header: str, name: str) -> str | None:
    if not header:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except Exception:  # noqa: BLE001 - a malformed Cookie header is no session, not a 500
        return None
    morsel = jar.get(name)
    return morsel.value if morsel else None


def _set_cookie(name: str, value: str, secure: bool) -> bytes:
    flags = "; Path=/; HttpOnly; SameSite=Strict" + ("; Secure" if secure else "")
    return f"{name}={value}{flags}".encode()


def clear_cookie(name: str) -> str:
    return f"{name}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"


def login_cookie(name: str, value: str, secure: bool) -> str:
    return _set_cookie(name, value, secure).decode()


async def _form_token(receive) -> tuple[bytes | None, str | None]:
    """The whole form body (None past MAX_FORM_BYTES) and its csrf_token field."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return None, None
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    body = b"".join(chunks)
    for key, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True):
        if key == "csrf_token":
            return body, value
    return body, None


def _replay(body: bytes, original):
    """The body already read, then the client's own messages (its disconnect)."""
    sent = False

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await original()

    return receive


async def _plain(send, status: int, text: str) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": text.encode()})


async def _redirect(send, location: str) -> None:
    await send({"type": "http.response.start", "status": 303,
                "headers": [(b"location", location.encode("latin-1")), *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": b""})

