"""Random requests for /rest/v1 and /auth/v1 (hypothesis strategies) and what every answer must
satisfy: never a 5xx, and a refusal in the protocol's own shape (PostgREST's {code, message,
details, hint}, GoTrue's {code, error_code, msg}).

Shared by the property tests (tests/localbase/rest/test_properties.py, tests/localbase/auth/
test_properties.py: a short run in CI) and `python benchmarks/fuzz.py --minutes 10` (a long one on
servers of its own). Writes run with `Prefer: tx=rollback` unless the caller lets them commit, so
the shared test fixtures survive."""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import quote

import httpx
from hypothesis import strategies as st

# -- building blocks --------------------------------------------------------------------------------
text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30)
nasty = st.sampled_from(["", " ", "\x00", "a\x00b", "'", '"', "\\", "%", "%00", "null", "NaN", "-1", "1e400",
                         "9" * 40, "é", "🙂", "\u202e", "<script>", "${x}", "*", ",", "()", "a.b", "->>", "::text",
                         "; drop table countries; --"])
texts = st.one_of(text, nasty)
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False),
                         texts)
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(texts, inner, max_size=4)), max_leaves=12)


@dataclass
class Case:
    method: str
    path: str  # after the service prefix, e.g. "countries" or "rpc/echo" or "signup"
    params: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    token: str = "anon"  # anon | user | service | bad: which bearer token the runner sends

    def url(self, base: str) -> str:
        qs = "&".join(f"{quote(k, safe='')}={quote(v, safe='(),.*:')}" for k, v in self.params)
        return f"{base}/{self.path}" + (f"?{qs}" if qs else "")

    def __repr__(self) -> str:  # what a failure report shows: enough to replay by hand
        body = self.body[:300] if self.body is not None else None
        return f"Case({self.method} /{self.path} params={self.params!r} headers={self.headers!r} " \
               f"token={self.token} body={body!r})"


BAD_TOKENS = 7  # how many bad_tokens() returns


def tokens() -> st.SearchStrategy[str]:
    """Which bearer token a case sends: none (the anon key alone), a user's, the service role's, or
    (one time in eight) a bad one."""
    return st.sampled_from(["anon", "anon", "user", "user", "user", "service", "service", "bad"]).flatmap(
        lambda name: st.integers(0, BAD_TOKENS - 1).map(lambda n: f"bad{n}") if name == "bad" else st.just(name))


@st.composite
def bodies(draw, keys: list[str]) -> bytes | None:
    """Request bodies: {}, [], [{}], objects and arrays of objects over known and random keys,
    nested values, wrong types, invalid JSON, CSV, form fields and raw bytes."""
    kind = draw(st.sampled_from(["none", "empty", "object", "object", "rows", "value", "invalid", "csv", "form",
                                 "bytes"]))
    if kind == "none":
        return None
    if kind == "empty":
        return draw(st.sampled_from([b"{}", b"[]", b"[{}]", b"", b" ", b"null", b"[[]]", b"{\"\":{}}"]))
    if kind == "object":
        obj = draw(st.dictionaries(st.one_of(st.sampled_from(keys), texts), json_values, max_size=5))
        return json.dumps(obj).encode()
    if kind == "rows":
        row_keys = draw(st.lists(st.sampled_from(keys), max_size=4, unique=True))
        rows = draw(st.lists(st.fixed_dictionaries({k: json_values for k in row_keys}), max_size=4))
        if rows and draw(st.booleans()):
            rows.append(draw(st.dictionaries(st.sampled_from(keys), json_values, max_size=3)))  # keys differ
        return json.dumps(rows).encode()
    if kind == "value":
        return json.dumps(draw(json_values)).encode()
    if kind == "invalid":
        return draw(st.sampled_from([b"{", b"[1,", b"{'a': 1}", b"NaN", b"{\"a\": Infinity}", b"\xff\xfe",
                                     b"{\"a\":1}{\"b\":2}", b"[" * 2000, b"{\"a\":" * 600 + b"1" + b"}" * 600,
                                     b"\x00", b"{\"a\":\"\\ud800\"}"]))
    if kind == "csv":
        header = ",".join(draw(st.lists(st.sampled_from(keys), min_size=1, max_size=3)))
        lines = draw(st.lists(st.lists(texts, min_size=1, max_size=3).map(",".join), max_size=3))
        return "\n".join([header, *lines]).encode()
    if kind == "form":
        return "&".join(f"{quote(k)}={quote(v)}" for k, v in draw(
            st.lists(st.tuples(st.sampled_from(keys), texts), max_size=3))).encode()
    return draw(st.binary(max_size=40))


# -- REST -------------------------------------------------------------------------------------------
# The test project's schema (tests/localbase/project): most requests name real tables, columns,
# embeds and arguments, so that they get past the first check and reach the planner and PostgreSQL.
CITY_COLUMNS = ["id", "name", "country_id", "population", "data", "data->>rank", "data->mayor->>name", "data->rank",
                "tags", "founded"]
TABLES: dict[str, tuple[list[str], list[str]]] = {  # table -> (columns, embeds)
    "countries": (["id", "name", "code", "continent", "label"],
                  ["cities(*)", "cities(name,population)", "capitals(*)", "big_cities_of(name)", "capital_city(name)",
                   "cities!inner(name)", "capital:capital_city(*)", "...capital_city(name)"]),
    "cities": (CITY_COLUMNS, ["countries(*)", "countries(name,code)", "capitals(*)", "...countries(name)",
                              "countries!inner(name)"]),
    "big_cities": (CITY_COLUMNS, ["countries(name)"]),
    "capitals": (["country_id", "city_id"], ["countries(name)", "cities(name)"]),
    "people": (["id", "name"], ["messages!sender_id(body)", "messages!receiver_id(*)"]),
    "messages": (["id", "sender_id", "receiver_id", "body"],
                 ["sender:people!sender_id(name)", "receiver:people!receiver_id(*)", "people(*)"]),
    "actors": (["id", "name"], ["films(title)", "film_roles(*)"]),
    "films": (["id", "title", "year"], ["actors(*)", "film_roles(character)"]),
    "film_roles": (["actor_id", "film_id", "character"], ["actors(name)", "films(*)"]),
    "articles": (["id", "title", "body", "fts"], []),
    "reservations": (["id", "room", "during"], []),
    "items": (["id", "sku", "name", "qty", "price", "created_at"], []),
    "notes": (["id", "owner_id", "body", "created_at"], []),
    "secrets": (["id", "value"], []),
    "nope": (["id"], []), "pg_user": (["usename"], []), "countries;drop": (["id"], []),
}
# (fail_with is left out: it raises whatever SQLSTATE it is given, a 5xx class included, as asked)
FUNCTIONS: dict[str, list[str]] = {
    "add_them": ["a", "b"], "hello": ["name"], "cities_named": ["pattern"], "continent_stats": [], "echo": ["payload"],
    "whoami": [], "touch_nothing": [], "make_note": ["body"], "numbers": ["n"], "label": ["countries"],
    "big_cities_of": [], "nope": ["x"],
}
REST_ODD_PATHS = ["", "rpc", "rpc/", "countries/1", "rpc/echo/x", "../etc/passwd", "%00", "countries%00"]
ODD_COLUMNS = ["nope", "id;drop", "\"id\"", "*", "", "a->", "->>x", "data->>", "id::text", "count()", "id.name"]
OPS = ["eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "is", "in", "cs", "cd", "ov", "fts", "plfts", "phfts",
       "wfts", "match", "imatch", "sl", "sr", "adj", "isdistinct", "not.eq", "not.in", "eq(any)", "like(all)", "zz",
       ""]
VALUES = st.one_of(texts, st.integers(-10, 10**7).map(str), st.sampled_from(
    ["1", "0", "-1", "null", "true", "(1,2)", "{a,b}", "[1,5)", "2020-01-01", "France", "%a%", "(\"a\",b)", "{}",
     "[]", "1.5", "abc:*", "not_null", "unknown", "(1,2", "{\"a\":1}", "english.x"]))
PREFS = ["return=minimal", "return=representation", "return=headers-only", "count=exact", "count=planned",
         "count=estimated", "resolution=merge-duplicates", "resolution=ignore-duplicates", "missing=default",
         "missing=null", "handling=strict", "handling=lenient", "tx=commit", "tx=rollback", "params=single-object",
         "max-affected=0", "max-affected=1", "max-affected=99999999999999999999", "timezone=UTC",
         "timezone=Nope/Nowhere", "return=", "count", "x=y", ""]
ACCEPTS = ["application/json", "application/vnd.pgrst.object+json", "application/vnd.pgrst.object", "text/csv",
           "application/geo+json", "application/vnd.pgrst.plan", "application/vnd.pgrst.plan+json", "text/plain",
           "application/octet-stream", "*/*", "application/json;q=0", "nope/nope", "",
           "application/vnd.pgrst.array+json;nulls=stripped", "application/openapi+json"]
CONTENT_TYPES = ["application/json", "text/csv", "application/x-www-form-urlencoded", "text/plain", "text/xml",
                 "application/octet-stream", "application/vnd.pgrst.object+json", "nope", ""]
PROFILES = ["public", "inventory", "hidden", "nope", "", "pg_catalog"]
# (FOO, or CONNECT, which HTTP reserves for proxies, never reach the app: uvicorn answers 400 itself)
METHODS = ["GET", "GET", "GET", "HEAD", "POST", "POST", "POST", "PATCH", "PATCH", "PATCH", "PUT", "DELETE", "DELETE",
           "DELETE", "OPTIONS", "TRACE"]


def sometimes(draw, strategy, odds: int = 4):
    """A value from `strategy` one time in `odds`, else None."""
    return draw(strategy) if draw(st.integers(1, odds)) == 1 else None


def column_values(draw, column: str) -> object:
    """A JSON value for a column: mostly of a type it could take, sometimes anything."""
    typed = {"id": st.integers(-2, 50), "country_id": st.integers(-1, 8), "population": st.integers(-1, 10**8),
             "qty": st.integers(-2, 10), "price": st.floats(-10, 1e6, allow_nan=False), "year": st.integers(1900, 2030),
             "data": json_values, "tags": st.lists(texts, max_size=3), "founded": st.sampled_from(
                 ["2020-01-01", "0250-01-01", "not a date", "99999-01-01"]),
             "during": st.sampled_from(["[1,5)", "(,)", "[5,1)", "x"]), "owner_id": st.sampled_from(
                 [str(uuid.UUID(int=0)), "not-a-uuid"])}
    return draw(st.one_of(typed.get(column.split("->")[0], texts), json_values) if draw(st.booleans())
                else typed.get(column.split("->")[0], texts))


GOOD_OPS = ["eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "is", "in", "not.eq", "not.in", "cs", "fts"]


def usually(draw, good, odd, odds: int = 8):
    """Mostly a well-formed value (so a case gets past the parser), one time in `odds` an odd one."""
    return draw(odd) if draw(st.integers(1, odds)) == 1 else draw(good)


@st.composite
def rest_params(draw, columns: list[str], embeds: list[str]) -> list[tuple[str, str]]:
    any_column = st.one_of(st.sampled_from(ODD_COLUMNS), texts)
    column = st.sampled_from(columns)
    good_value = st.one_of(st.integers(-1, 10**7).map(str), st.sampled_from(
        ["1", "2", "France", "Paris", "%a%", "null", "true", "(1,2)", "{a,b}", "2020-01-01"]), text)

    def col() -> str:
        return usually(draw, column, any_column)

    def op() -> str:
        return usually(draw, st.sampled_from(GOOD_OPS), st.sampled_from(OPS))

    def val() -> str:
        return usually(draw, good_value, VALUES)

    params: list[tuple[str, str]] = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["filter", "filter", "filter", "select", "select", "order", "order", "range",
                                     "range", "or", "columns", "on_conflict", "embedded", "raw"]))
        if kind == "filter":
            params.append((col(), f"{op()}.{val()}"))
        elif kind == "select":
            items = st.one_of(column, column, st.sampled_from(embeds or ["*"]), st.sampled_from(
                ["*", "count()", "id::text", "name:name", "x:data->>rank::int", "nope(*)"]), any_column)
            params.append(("select", ",".join(draw(st.lists(items, max_size=4)))))
        elif kind == "order":
            direction = usually(draw, st.sampled_from(["", ".asc", ".desc", ".desc.nullslast", ".asc.nullsfirst"]),
                                st.sampled_from([".x", ".nullsfirst", "."]))
            params.append(("order", ",".join(f"{col()}{direction}" for _ in range(draw(st.integers(1, 2))))))
        elif kind == "range":
            params.append((usually(draw, st.sampled_from(["limit", "limit", "offset"]),
                                   st.sampled_from(["cities.limit", "cities.offset", "x.limit"])),
                           usually(draw, st.integers(0, 5).map(str),
                                   st.one_of(VALUES, st.integers(-5, 10**12).map(str)))))
        elif kind == "or":
            terms = ",".join(f"{col()}.{op()}.{val()}" for _ in range(draw(st.integers(1, 3))))
            params.append((usually(draw, st.sampled_from(["or", "and", "not.or"]), st.just("cities.or")),
                           f"({terms})"))
        elif kind in ("columns", "on_conflict"):
            params.append((kind, ",".join(col() for _ in range(draw(st.integers(0, 3))))))
        elif kind == "embedded" and embeds:
            params.append((f"cities.{col()}", f"{op()}.{val()}"))
        elif draw(st.integers(1, 4)) == 1:
            params.append((draw(texts), draw(texts)))
    return params


@st.composite
def rest_body(draw, keys: list[str]) -> bytes | None:
    """Mostly rows over the target's own columns (or a function's arguments), else anything."""
    if not keys or draw(st.integers(1, 3)) == 1:
        return draw(bodies(keys or ["x"]))
    names = draw(st.lists(st.sampled_from(keys), max_size=len(keys), unique=True))
    row = {name: column_values(draw, name) for name in names}
    if draw(st.booleans()):
        return json.dumps(row).encode()
    rows = [row] + [{name: column_values(draw, name) for name in names} for _ in range(draw(st.integers(0, 2)))]
    return json.dumps(rows).encode()


@st.composite
def rest_cases(draw, *, commit: bool = False) -> Case:
    method = draw(st.sampled_from(METHODS))
    kind = draw(st.sampled_from(["table"] * 6 + ["rpc"] * 3 + ["odd"]))
    if kind == "table":
        path = draw(st.sampled_from(sorted(TABLES)))
        columns, embeds = TABLES[path]
        keys = [c for c in columns if "->" not in c]
    elif kind == "rpc":
        method = usually(draw, st.sampled_from(["GET", "POST", "POST", "HEAD"]), st.just(method))
        name = draw(st.sampled_from(sorted(FUNCTIONS)))
        path, keys = f"rpc/{name}", FUNCTIONS[name]
        columns, embeds = (TABLES["cities"] if name == "cities_named" else (["continent", "countries"], []))
        columns = [*columns, *keys]
    else:
        path, columns, embeds, keys = draw(st.sampled_from(REST_ODD_PATHS)), ["id", "name"], [], []
    params = draw(rest_params(columns, embeds))
    if kind == "rpc" and method in ("GET", "HEAD"):
        params += [(key, str(column_values(draw, key))) for key in keys if draw(st.booleans())]
    headers: dict[str, str] = {}
    prefer = draw(st.lists(st.one_of(st.sampled_from(PREFS), st.sampled_from(PREFS), texts), max_size=4))
    writes = method not in ("GET", "HEAD", "OPTIONS")
    if writes and not commit:
        prefer.insert(0, "tx=rollback")  # the first of a kind wins: the shared fixtures survive
    if prefer:
        headers["Prefer"] = ", ".join(prefer)
    if (accept := sometimes(draw, st.sampled_from(ACCEPTS))) is not None:
        headers["Accept"] = accept
    body = draw(rest_body(keys)) if method not in ("GET", "HEAD") or draw(st.integers(1, 6)) == 1 else None
    if (content_type := sometimes(draw, st.sampled_from(CONTENT_TYPES))) is not None:
        headers["Content-Type"] = content_type
    if (profile := sometimes(draw, st.sampled_from(PROFILES), 6)) is not None:
        headers[draw(st.sampled_from(["Accept-Profile", "Content-Profile"]))] = profile
    if (span := sometimes(draw, st.sampled_from(["0-9", "5-", "9-0", "x", "0-99999999999999999999", "-5"]), 6)):
        headers["Range"] = span
    return Case(method, path, params, headers, body, draw(tokens()))


def check_rest(case: Case, answer: httpx.Response) -> str | None:
    """What is wrong with this answer, or None."""
    if answer.status_code >= 500:
        return f"{answer.status_code}: {answer.text[:300]}"
    if answer.status_code >= 400 and answer.content and answer.url.path.startswith("/rest/v1/"):
        try:
            body = answer.json()
        except ValueError:
            return f"{answer.status_code} not JSON: {answer.text[:200]}"
        if not isinstance(body, dict) or not {"code", "message", "details", "hint"} <= set(body):
            return f"{answer.status_code} not PostgREST's shape: {answer.text[:200]}"
    return None


# -- Auth -------------------------------------------------------------------------------------------
AUTH_ROUTES: dict[str, list[str]] = {  # path -> the methods it serves
    "signup": ["POST"], "token": ["POST"], "user": ["GET", "PUT"], "logout": ["POST"], "reauthenticate": ["GET"],
    "factors": ["POST"], "factors/{uuid}/challenge": ["POST"], "factors/{uuid}/verify": ["POST"],
    "factors/{uuid}": ["DELETE"], "factors/x/verify": ["POST"], "otp": ["POST"], "magiclink": ["POST"],
    "recover": ["POST"], "resend": ["POST"], "verify": ["GET", "POST"], "invite": ["POST"],
    "admin/users": ["GET", "POST"], "admin/users/{uuid}": ["GET", "PUT", "DELETE"],
    "admin/users/not-a-uuid": ["GET", "PUT", "DELETE"], "admin/generate_link": ["POST"], "settings": ["GET"],
    "health": ["GET"], "authorize": ["GET"], "callback": ["GET"], "nope": ["GET"],
}
AUTH_KEYS = ["email", "password", "phone", "data", "options", "refresh_token", "token", "token_hash", "type",
             "redirect_to", "code_challenge", "code_challenge_method", "auth_code", "code_verifier", "nonce",
             "ban_duration", "user_metadata", "app_metadata", "email_confirm", "phone_confirm", "role",
             "password_hash", "factor_type", "friendly_name", "issuer", "code", "challenge_id", "scope",
             "captcha_token", "gotrue_meta_security", "channel", "should_soft_delete", "create_user", "id"]
AUTH_VALUES = st.one_of(texts, json_values, st.sampled_from(
    ["user@example.com", "a\x00b@example.com", "x@y", "correct-horse-1", "99999999999h", "1h30m", "-1h", "none",
     "signup", "recovery", "magiclink", "email", "email_change", "invite", "totp", "phone", "S256", "plain",
     "global", "local", "others", "authenticated", "service_role", str(uuid.UUID(int=0)), "123456", "pkce"]))
AUTH_QUERY_KEYS = ["grant_type", "redirect_to", "token", "type", "scope", "provider", "page", "per_page",
                   "email", "filter", "code"]
AUTH_QUERY_VALUES = st.one_of(texts, st.sampled_from(
    ["password", "refresh_token", "pkce", "id_token", "nope", "1", "0", "-1", "99999999999999999999", "global",
     "signup", "recovery", "github", "user@example.com"]))


@st.composite
def auth_cases(draw) -> Case:
    route = draw(st.sampled_from(sorted(AUTH_ROUTES)))
    method = usually(draw, st.sampled_from(AUTH_ROUTES[route]),
                     st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]))
    path = route.replace("{uuid}", str(uuid.UUID(int=draw(st.integers(0, 3)))))
    kind = draw(st.sampled_from(["object", "object", "object", "body"]))
    if kind == "object":
        fields = draw(st.dictionaries(st.sampled_from(AUTH_KEYS), AUTH_VALUES, max_size=5))
        body: bytes | None = json.dumps(fields).encode()
    else:
        body = draw(bodies(AUTH_KEYS))
    params = draw(st.lists(st.tuples(st.sampled_from(AUTH_QUERY_KEYS), AUTH_QUERY_VALUES), max_size=3))
    headers = {"Content-Type": draw(st.sampled_from(["application/json", "application/json", "text/plain",
                                                     "application/x-www-form-urlencoded"]))}
    if draw(st.booleans()):
        headers["X-Supabase-Api-Version"] = "2024-01-01"
    return Case(method, path, params, headers, body, draw(tokens()))


def check_auth(case: Case, answer: httpx.Response) -> str | None:
    if answer.status_code >= 500:
        return f"{answer.status_code}: {answer.text[:300]}"
    if answer.status_code >= 400 and answer.content:
        try:
            body = answer.json()
        except ValueError:
            return f"{answer.status_code} not JSON: {answer.text[:200]}"
        gateway = answer.status_code in (404, 405) and isinstance(body, dict) and set(body) == {"message"}
        if not gateway and not (isinstance(body, dict) and {"code", "error_code", "msg"} <= set(body)):
            # (a path or method Auth does not serve gets the gateway's {message}, as on Supabase)
            return f"{answer.status_code} not GoTrue's shape: {answer.text[:200]}"
    return None


# -- running a case ---------------------------------------------------------------------------------
SERVICES = {"rest": ("rest/v1", check_rest), "auth": ("auth/v1", check_auth)}


class Target:
    """A server's REST or Auth, the tokens a case may carry, and the check its answers must pass."""

    def __init__(self, server, user_token: str, service: str):
        self.url, self.anon_key = server.url, server.anon_key
        self.tokens = {"user": user_token, "service": server.service_role_key, **bad_tokens(server.jwt_secret)}
        self.prefix, self.check = SERVICES[service]
        self.client = httpx.Client(timeout=30)

    def __enter__(self) -> Target:
        return self

    def __exit__(self, *exc) -> None:
        self.client.close()

    def send(self, case: Case) -> httpx.Response:
        headers = {"apikey": self.anon_key, **case.headers}
        token = self.tokens.get(case.token)  # anon: none, the apikey alone
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        # header values go as UTF-8 bytes; HTTP/1.1 cannot carry control characters in them at all
        raw = {name.encode(): _CONTROL.sub("", value).strip(" \t").encode() for name, value in headers.items()}
        return self.client.request(case.method, case.url(f"{self.url}/{self.prefix}"), content=case.body,
                                   headers=raw)

    def problem(self, case: Case) -> str | None:
        """What is wrong with the server's answer to this case, or None."""
        return self.check(case, self.send(case))


_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def bad_tokens(secret: str) -> dict[str, str]:
    """Tokens a server must refuse with a 4xx: garbage, a wrong secret, time claims that are not
    numbers, an expired one, a role that is not a string or not a role."""
    from localbase.security import jwt

    now = int(time.time())
    found = ["x.y.z", "not-a-jwt", jwt.sign({"role": "authenticated"}, "another-secret-that-is-long-enough-123"),
             jwt.sign({"role": "authenticated", "sub": "u", "exp": str(now + 3600)}, secret),
             jwt.sign({"role": "authenticated", "exp": now - 10}, secret),
             jwt.sign({"role": ["authenticated"], "exp": now + 3600}, secret),
             jwt.sign({"role": "nope_role", "exp": now + 3600}, secret)]
    assert len(found) == BAD_TOKENS
    return {f"bad{n}": token for n, token in enumerate(found)}
