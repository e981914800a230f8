"""The OAuth 2.1 server's admin API, as GoTrue answers it (supabase `auth.admin.oauth.*`), when
`[auth.oauth_server] enabled = true`: register, list, get, update, regenerate the secret of and
delete the clients of apps that sign their users in with this project.

- POST /admin/oauth/clients -> 201 with `client_secret` (confidential clients; shown this once)
- GET /admin/oauth/clients[?page=&per_page=] -> {clients: [...]}, newest first
- GET / PUT / DELETE /admin/oauth/clients/{client_id}; POST .../regenerate_secret
Only the SHA-256 of a secret is kept (auth.oauth_clients, GoTrue's layout). Off: 404
feature_disabled "OAuth server is disabled", as GoTrue.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from localbase.auth import errors
from localbase.auth.admin import page_param
from localbase.auth.context import body, endpoint, json, pool, service

GRANT_TYPES = ("authorization_code", "refresh_token")
AUTH_METHODS = {"none": "public", "client_secret_basic": "confidential", "client_secret_post": "confidential"}
DANGEROUS_SCHEMES = ("javascript", "data", "file", "vbscript", "about", "blob")
LOOPBACK = ("localhost", "127.0.0.1", "::1")
COLUMNS = ("id, client_type::text, redirect_uris, token_endpoint_auth_method, grant_types, client_name, "
           "client_uri, logo_uri, registration_type::text, created_at, updated_at")


def _enabled(request: Request) -> None:
    if not service(request).config.oauth_server:
        raise errors.FEATURE_DISABLED()


def client_json(row: Any, secret: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"client_id": str(row["id"]), "client_type": row["client_type"],
                           "redirect_uris": row["redirect_uris"].split(",") if row["redirect_uris"] else [],
                           "token_endpoint_auth_method": row["token_endpoint_auth_method"],
                           "grant_types": row["grant_types"].split(",") if row["grant_types"] else [],
                           "response_types": ["code"], "registration_type": row["registration_type"],
                           "created_at": row["created_at"], "updated_at": row["updated_at"]}
    for name in ("client_name", "client_uri", "logo_uri"):  # GoTrue leaves empty ones out
        if row[name]:
            out[name] = row[name]
    if secret is not None:
        out["client_secret"] = secret
    return out


def _new_secret() -> tuple[str, str]:
    """(the secret, what is kept of it: base64url of its SHA-256, as GoTrue)."""
    plain = secrets.token_urlsafe(32)
    return plain, base64.urlsafe_b64encode(hashlib.sha256(plain.encode()).digest()).rstrip(b"=").decode()


def _redirect_uris(value: Any, required: bool) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, list) or not value:
        raise errors.VALIDATION_FAILED("redirect_uris is required" if value is None
                                       else "redirect_uris cannot be empty")
    if len(value) > 10:
        raise errors.VALIDATION_FAILED("redirect_uris cannot exceed 10 items")
    for uri in value:
        problem = _redirect_problem(uri)
        if problem:
            raise errors.VALIDATION_FAILED(f"invalid redirect_uri '{str(uri)[:200]}': {problem}")
    return ",".join(value)


def _redirect_problem(uri: Any) -> str | None:
    if not isinstance(uri, str) or not uri:
        return "redirect URI cannot be empty"
    if "," in uri:
        return "must not contain a comma"
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "invalid URL format"
    if not parts.scheme or not parts.netloc:
        return "must have scheme and host"
    if parts.scheme.lower() in DANGEROUS_SCHEMES:
        return f"scheme '{parts.scheme}' is not allowed for security reasons"
    if parts.scheme == "http" and parts.hostname not in LOOPBACK:
        return "HTTP scheme only allowed for localhost"
    if parts.fragment:
        return "fragment not allowed in redirect URI"
    return None


def _grant_types(value: Any) -> str:
    if not isinstance(value, list) or not value:
        raise errors.VALIDATION_FAILED("grant_types cannot be empty")
    if any(g not in GRANT_TYPES for g in value):
        raise errors.VALIDATION_FAILED("grant_types must only contain 'authorization_code' and/or 'refresh_token'")
    return ",".join(value)


def _text(data: dict[str, Any], name: str, limit: int, url: bool = False) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise errors.VALIDATION_FAILED(f"{name} cannot exceed {limit} characters")
    if url and value:
        parts = urlsplit(value)
        if not (parts.scheme or value.startswith("/")) or " " in value:
            raise errors.VALIDATION_FAILED(f"{name} must be a valid URL")
    return value


def _client_id(request: Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.path_params["client_id"])
    except ValueError:
        raise errors.VALIDATION_FAILED("invalid client_id format") from None


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        return await body(request)
    except errors.AuthError:
        raise errors.BAD_JSON("Invalid JSON body") from None


async def _load(conn: Any, client_id: uuid.UUID) -> Any:
    row = await conn.fetchrow(f"select {COLUMNS} from auth.oauth_clients where id = $1 and deleted_at is null",
                              client_id)
    if row is None:
        raise errors.OAUTH_CLIENT_NOT_FOUND()
    return row


@endpoint
async def create(request: Request) -> Response:
    _enabled(request)
    data = await _json_body(request)
    uris = _redirect_uris(data.get("redirect_uris"), required=True)
    grants = _grant_types(data["grant_types"]) if data.get("grant_types") else ",".join(GRANT_TYPES)
    name = _text(data, "client_name", 1024)
    client_uri, logo_uri = _text(data, "client_uri", 2048, url=True), _text(data, "logo_uri", 2048, url=True)
    kind, method = data.get("client_type") or "", data.get("token_endpoint_auth_method") or ""
    if kind and kind not in ("public", "confidential"):
        raise errors.VALIDATION_FAILED("client_type must be 'public' or 'confidential'")
    if method and method not in AUTH_METHODS:
        raise errors.VALIDATION_FAILED(f"token_endpoint_auth_method must be one of: [{' '.join(AUTH_METHODS)}]")
    if kind and method and AUTH_METHODS[method] != kind:
        raise errors.VALIDATION_FAILED(f"client_type '{kind}' is inconsistent with token_endpoint_auth_method "
                                       f"'{method}' (expected client_type '{AUTH_METHODS[method]}')")
    kind = kind or (AUTH_METHODS[method] if method else "confidential")
    method = method or ("none" if kind == "public" else "client_secret_basic")
    secret, digest = _new_secret() if kind == "confidential" else (None, None)
    async with pool(request).acquire() as conn:
        row = await conn.fetchrow(
            f"""insert into auth.oauth_clients (id, client_secret_hash, registration_type, redirect_uris, grant_types,
                    client_name, client_uri, logo_uri, client_type, token_endpoint_auth_method)
                values ($1, $2, 'manual', $3, $4, $5, $6, $7, $8::auth.oauth_client_type, $9)
                returning {COLUMNS}""",
            uuid.uuid4(), digest, uris, grants, name, client_uri, logo_uri, kind, method)
    return json(client_json(row, secret), status=201)


@endpoint
async def list_clients(request: Request) -> Response:
    _enabled(request)
    paged = "page" in request.query_params or "per_page" in request.query_params
    page = max(1, page_param(request, "page", 1))
    per_page = min(1000, max(1, page_param(request, "per_page", 50)))
    async with pool(request).acquire() as conn:
        total = await conn.fetchval("select count(*) from auth.oauth_clients where deleted_at is null")
        rows = await conn.fetch(f"select {COLUMNS} from auth.oauth_clients where deleted_at is null "
                                "order by created_at desc, id limit $1 offset $2",
                                per_page if paged else None, (page - 1) * per_page if paged else 0)
    headers = {"x-total-count": str(total)}
    if paged:
        last = max(1, -(-total // per_page))
        path = f"{service(request).config.issuer}/admin/oauth/clients"
        links = [f'<{path}?page={page + 1}&per_page={per_page}>; rel="next"'] if page < last else []
        headers["link"] = ", ".join([*links, f'<{path}?page={last}&per_page={per_page}>; rel="last"'])
    return json({"clients": [client_json(r) for r in rows]}, headers=headers)


@endpoint
async def get(request: Request) -> Response:
    _enabled(request)
    client_id = _client_id(request)
    async with pool(request).acquire() as conn:
        return json(client_json(await _load(conn, client_id)))


@endpoint
async def update(request: Request) -> Response:
    _enabled(request)
    client_id = _client_id(request)
    data = await _json_body(request)
    fields = ("redirect_uris", "grant_types", "client_name", "client_uri", "logo_uri", "token_endpoint_auth_method")
    if all(data.get(f) is None for f in fields):
        raise errors.VALIDATION_FAILED("No fields provided for update")
    changes: dict[str, Any] = {}
    if data.get("redirect_uris") is not None:
        changes["redirect_uris"] = _redirect_uris(data["redirect_uris"], required=False)
    if data.get("grant_types") is not None:
        changes["grant_types"] = _grant_types(data["grant_types"])
    changes.update({n: v for n, v in (("client_name", _text(data, "client_name", 1024)),
                                      ("client_uri", _text(data, "client_uri", 2048, url=True)),
                                      ("logo_uri", _text(data, "logo_uri", 2048, url=True))) if v is not None})
    async with pool(request).acquire() as conn:
        async with conn.transaction():
            row = await _load(conn, client_id)
            method = data.get("token_endpoint_auth_method")
            if method is not None:
                valid = [m for m, kind in AUTH_METHODS.items() if kind == row["client_type"]]
                if method not in valid:
                    raise errors.VALIDATION_FAILED(
                        f"token_endpoint_auth_method '{method}' is not valid for client_type "
                        f"'{row['client_type']}'; valid methods: [{' '.join(valid)}]")
                changes["token_endpoint_auth_method"] = method
            assignments = ", ".join(f"{name} = ${n}" for n, name in enumerate(changes, 2))  # names from `fields`
            row = await conn.fetchrow(f"update auth.oauth_clients set {assignments}, updated_at = now() "
                                      f"where id = $1 returning {COLUMNS}", client_id, *changes.values())
    return json(client_json(row))


@endpoint
async def regenerate_secret(request: Request) -> Response:
    _enabled(request)
    client_id = _client_id(request)
    async with pool(request).acquire() as conn:
        row = await _load(conn, client_id)
        if row["client_type"] != "confidential":
            raise errors.VALIDATION_FAILED("Cannot regenerate secret for public client")
        secret, digest = _new_secret()
        row = await conn.fetchrow(f"update auth.oauth_clients set client_secret_hash = $2, updated_at = now() "
                                  f"where id = $1 returning {COLUMNS}", client_id, digest)
    return json(client_json(row, secret))


@endpoint
async def delete(request: Request) -> Response:
    _enabled(request)
    client_id = _client_id(request)
    async with pool(request).acquire() as conn:
        await _load(conn, client_id)
        await conn.execute("update auth.oauth_clients set deleted_at = now(), updated_at = now() where id = $1",
                           client_id)
    return Response(status_code=204)
