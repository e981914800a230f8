"""Settings: supabase/config.toml (Supabase CLI layout), then environment, then command-line flags.

Only what every service needs is typed here; each service reads its own section of `config`
(e.g. the auth service reads `config["auth"]`), as the Supabase CLI's config.toml is laid out.

Settings only Localbase knows ([localbase], [backup], [realtime] expected_tables, ...) may also live
in supabase/localbase.toml, merged over config.toml: the Supabase CLI refuses a config.toml with
keys it does not know ("has invalid keys"), so a project deployed with `supabase db push` keeps
them there.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from localbase.config_values import SettingsError, choice, env_bool, env_int, parse_bool
from localbase.nodes.config import (
    NodeSettings,
    NodeSettingsError,
    ReadReplicaSettings,
    node_settings,
    read_replica_settings,
)
from localbase.security import signing_keys
from localbase.security.keys import ProjectKeys, load_or_create
from localbase.security.signing_keys import KeyRing
from localbase.studio.config import StudioSettings, StudioSettingsError

DEFAULT_API_PORT = 54321
DEFAULT_DB_PORT = 54322
DEFAULT_SCHEMAS = ("public", "graphql_public")
MODES = ("development", "production")
LOG_FORMATS = ("text", "json")
LOCALBASE_TOML = "localbase.toml"


@dataclass(frozen=True)
class Limits:
    """What one client may ask of the server, and how long a request waits for the database.

    In supabase/config.toml: [api] max_body_bytes, max_url_bytes; [realtime] max_connections,
    max_frame_bytes; [db] connect_timeout_seconds, pool_timeout_seconds."""

    max_body_bytes: int = 20 * 1024 * 1024  # a larger request body answers 413 before it is read
    max_url_bytes: int = 64 * 1024  # path + query string; larger answers 414
    max_header_bytes: int = 64 * 1024  # all request headers together; larger is refused by the server
    realtime_max_connections: int = 10_000  # open /realtime/v1 sockets; more are closed with 1013
    realtime_max_frame_bytes: int = 1024 * 1024  # a larger WebSocket message closes the socket (1009)
    db_connect_timeout: float = 5.0  # a new database connection, else 503
    db_pool_timeout: float = 10.0  # waiting for a free pooled connection, else 504 (PGRST003)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Limits:
        api, realtime, db = (config.get(name, {}) for name in ("api", "realtime", "db"))
        default = cls()
        try:
            limits = cls(
                max_body_bytes=int(api.get("max_body_bytes", default.max_body_bytes)),
                max_url_bytes=int(api.get("max_url_bytes", default.max_url_bytes)),
                max_header_bytes=int(api.get("max_header_bytes", default.max_header_bytes)),
                realtime_max_connections=int(realtime.get("max_connections", default.realtime_max_connections)),
                realtime_max_frame_bytes=int(realtime.get("max_frame_bytes", default.realtime_max_frame_bytes)),
                db_connect_timeout=float(db.get("connect_timeout_seconds", default.db_connect_timeout)),
                db_pool_timeout=float(db.get("pool_timeout_seconds", default.db_pool_timeout)),
            )
        except (TypeError, ValueError) as exc:
            raise SettingsError(f"a limit in config.toml is not a number: {exc}") from None
        for name, value in limits.__dict__.items():
            if value <= 0:
                raise SettingsError(f"{name} in config.toml must be positive, got {value}")
        return limits


@dataclass(frozen=True)
class Settings:
    project_dir: Path
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = DEFAULT_API_PORT
    db_port: int = DEFAULT_DB_PORT
    db_url: str | None = None  # an external PostgreSQL; None means the embedded one
    jwt_secret: str = ""
    anon_key: str = ""
    service_role_key: str = ""
    publishable_key: str = ""  # sb_publishable_...: the anon role
    secret_key: str = ""  # sb_secret_...: the service_role role
    # the secret plus [auth] signing_keys_path's keys: what every service verifies JWTs with
    keyring: KeyRing = field(default_factory=lambda: KeyRing(""), compare=False)
    jwt_expiry: int = 3600
    api_schemas: tuple[str, ...] = DEFAULT_SCHEMAS
    extra_search_path: tuple[str, ...] = ("public", "extensions")
    max_rows: int | None = 1000
    mode: str = "development"          # [localbase] mode / LOCALBASE_MODE: development or production
    log_format: str = "text"           # [localbase] log_format / LOCALBASE_LOG_FORMAT: text or json
    metrics_public: bool = False       # [localbase] metrics_public / LOCALBASE_METRICS_PUBLIC
    access_log: bool = False           # [localbase] access_log / LOCALBASE_ACCESS_LOG (default: on with json logs)
    limits: Limits = field(default_factory=Limits)  # request, socket and database-wait limits
    # [db] password / LOCALBASE_DB_PASSWORD: the embedded PostgreSQL's superuser password; None:
    # generated once per data folder (database/credentials.py)
    db_password: str | None = None
    # [api] trusted_proxies / LOCALBASE_TRUSTED_PROXIES: addresses or networks whose
    # X-Forwarded-For / -Proto are believed (the right-most untrusted hop is the client); none by default
    trusted_proxies: tuple[str, ...] = ()
    # several nodes on one PostgreSQL ([nodes], --node-id) and read replicas (--db-read-url): nodes/config.py
    nodes: NodeSettings = field(default_factory=NodeSettings)
    read_replicas: ReadReplicaSettings = field(default_factory=ReadReplicaSettings)
    # [db] role_secret / LOCALBASE_DB_ROLE_SECRET: an external database's login-role passwords are
    # derived from it (else from the --db-url's password; else generated per data folder)
    db_role_secret: str | None = None
    studio: StudioSettings = field(default_factory=StudioSettings)  # [studio]: the admin web page
    # [db] cluster_template / LOCALBASE_CLUSTER_TEMPLATE: a new data folder's embedded cluster is a copy
    # of a bootstrapped template kept in `cache_dir` (database/template_cache.py) rather than initdb's
    cluster_template: bool = True
    # LOCALBASE_CACHE_DIR, else $XDG_CACHE_HOME/localbase, else ~/.cache/localbase; None: no home to
    # cache in (the template is then off)
    cache_dir: Path | None = None
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def supabase_dir(self) -> Path:
        return self.project_dir / "supabase"

    @property
    def migrations_dir(self) -> Path:
        return self.supabase_dir / "migrations"

    @property
    def seed_file(self) -> Path:
        return self.supabase_dir / "seed.sql"

    @property
    def functions_dir(self) -> Path:
        return self.supabase_dir / "functions"

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def section(self, name: str) -> dict[str, Any]:
        """A (possibly nested, dotted) section of config.toml, `{}` when absent."""
        node: Any = self.config
        for part in name.split("."):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        return node if isinstance(node, dict) else {}

    def with_keys(self, keys: ProjectKeys, signing: tuple[signing_keys.SigningKey, ...] = ()) -> Settings:
        return replace(self, jwt_secret=keys.jwt_secret, anon_key=keys.anon_key,
                       service_role_key=keys.service_role_key, publishable_key=keys.publishable_key,
                       secret_key=keys.secret_key, keyring=KeyRing(keys.jwt_secret, signing))


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: {exc}") from None


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_config_toml(project_dir: Path) -> dict[str, Any]:
    """supabase/config.toml, with supabase/localbase.toml (Localbase-only settings) merged over it."""
    folder = project_dir / "supabase"
    return _merge(_read_toml(folder / "config.toml"), _read_toml(folder / LOCALBASE_TOML))


def _db_password(db: dict[str, Any], mode: str) -> str | None:
    raw = os.environ.get("LOCALBASE_DB_PASSWORD") or db.get("password")
    if raw is None or raw == "":
        return None
    where = "LOCALBASE_DB_PASSWORD / [db] password in supabase/localbase.toml"
    if not isinstance(raw, str) or not raw.isascii() or not raw.isprintable() or " " in raw:
        raise SettingsError(f"{where} must be printable ASCII without spaces")
    from localbase.database.credentials import weak_password_reason
    weak = weak_password_reason(raw)
    if mode == "production" and weak:
        raise SettingsError(f"{where}: {weak}, refused in production (remove it: a strong one is generated "
                            f"in the data folder)")
    return raw


def _trusted_proxies(api: dict[str, Any]) -> tuple[str, ...]:
    """[api] trusted_proxies (supabase/localbase.toml) or LOCALBASE_TRUSTED_PROXIES (comma-separated);
    uvicorn's FORWARDED_ALLOW_IPS, which earlier versions documented, is read the same way."""
    import ipaddress
    where = next((name for name in ("LOCALBASE_TRUSTED_PROXIES", "FORWARDED_ALLOW_IPS") if os.environ.get(name)),
                 "[api] trusted_proxies")
    raw = os.environ.get(where)
    items = [p.strip() for p in raw.split(",") if p.strip()] if raw is not None else api.get("trusted_proxies", [])
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise SettingsError(f"{where} must be a list of addresses or networks, e.g. [\"127.0.0.1/32\"]")
    networks = []
    for item in items:
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise SettingsError(f"{where}: {item!r} is not an IP address or network (\"*\" is not accepted: "
                                f"a client could then claim any address)") from None
    return tuple(networks)


def _cache_dir() -> Path | None:
    """Where Localbase keeps what it can make again (the XDG base directory rule); None without a home."""
    if os.environ.get("LOCALBASE_CACHE_DIR"):
        return Path(os.environ["LOCALBASE_CACHE_DIR"]).expanduser().resolve()
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):  # the spec: a relative value is invalid and ignored
        return Path(xdg) / "localbase"
    home = os.path.expanduser("~")
    return Path(home) / ".cache" / "localbase" if os.path.isabs(home) else None


def _cluster_template(db: dict[str, Any]) -> bool:
    from_env = env_bool("LOCALBASE_CLUSTER_TEMPLATE")
    if from_env is not None:
        return from_env
    return parse_bool(db.get("cluster_template", True), "[db] cluster_template in supabase/localbase.toml")


def _first(*values: int | None) -> int:
    """The first value given (a flag, then the environment, then config.toml): 0 is a value."""
    return next(value for value in values if value is not None)


def _port(value: int, source: str) -> int:
    if not 1 <= value <= 65535:
        raise SettingsError(f"{source} must be a port number from 1 to 65535, got {value}")
    return value


def _database_url(url: str | None, source: str) -> str | None:
    """A PostgreSQL URL, checked before anything connects (the message never shows a password)."""
    if not url:
        return None
    example = "postgresql://user:password@host:5432/database"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        raise SettingsError(f"{source} is not a valid URL: use {example}") from None
    if parts.scheme not in ("postgres", "postgresql"):
        got = f"it is a {parts.scheme}:// URL" if parts.scheme and "//" in url else "it is not a URL"
        raise SettingsError(f"{source} must be a PostgreSQL URL like {example} ({got})")
    return url


def require_project(project_dir: Path | str, *, supabase: bool = True) -> Path:
    """For the commands: the project folder exists and (unless `supabase` is False: a command on
    any DATABASE_URL) holds supabase/. A missing one is an error, never a new empty project."""
    project_dir = Path(project_dir).resolve()
    if not project_dir.is_dir():
        raise SettingsError(f"the project folder {project_dir} does not exist: pass --workdir <the folder "
                            "holding supabase/>, or create a project with `localbase init`")
    if supabase and not (project_dir / "supabase").is_dir():
        raise SettingsError(f"no supabase/ folder in {project_dir}: run `localbase init` there, or pass "
                            "--workdir <the folder holding supabase/>")
    return project_dir


def _require_shared_keys(fixed) -> None:
    """Several nodes must agree on what they sign and accept: keys generated per data folder would
    differ from node to node (nodes/agreement.py also compares the running nodes' keys)."""
    missing = [f"{env} / [auth] {name}" for name, env in (
        ("jwt_secret", "LOCALBASE_JWT_SECRET"), ("publishable_key", "LOCALBASE_PUBLISHABLE_KEY"),
        ("secret_key", "LOCALBASE_SECRET_KEY")) if getattr(fixed, name) is None]
    if missing:
        raise SettingsError("a named node (--node-id) needs the keys every node shares set by configuration, "
                            "not generated per data folder: " + ", ".join(missing))


def load_settings(
    project_dir: Path | str = ".",
    *,
    data_dir: Path | str | None = None,
    port: int | None = None,
    db_port: int | None = None,
    db_url: str | None = None,
    host: str | None = None,
    log_format: str | None = None,
    access_log: bool | None = None,
    studio_port: int | None = None,
    studio_host: str | None = None,
    studio: bool | None = None,
    with_keys: bool = True,
    node_id: str | None = None,
    db_read_urls: list[str] | None = None,
) -> Settings:
    project_dir = Path(project_dir).resolve()
    config = read_config_toml(project_dir)
    api = config.get("api", {})
    db = config.get("db", {})
    auth = config.get("auth", {})
    data = Path(data_dir or os.environ.get("LOCALBASE_DATA_DIR") or project_dir / ".localbase").resolve()
    local = config.get("localbase", {})
    max_rows = api.get("max_rows", 1000)
    metrics_public = env_bool("LOCALBASE_METRICS_PUBLIC")
    log_format = choice(log_format or os.environ.get("LOCALBASE_LOG_FORMAT") or local.get("log_format", "text"),
                        "--log-format / LOCALBASE_LOG_FORMAT / [localbase] log_format", LOG_FORMATS)
    if access_log is None:
        access_log = env_bool("LOCALBASE_ACCESS_LOG")
    if access_log is None:
        access_log = parse_bool(local.get("access_log", log_format == "json"), "[localbase] access_log")
    try:
        studio_settings = StudioSettings.load(config.get("studio", {}), enabled=studio, host=studio_host,
                                              port=studio_port)
    except StudioSettingsError as exc:
        raise SettingsError(str(exc)) from None
    settings = Settings(
        project_dir=project_dir,
        data_dir=data,
        host=host or os.environ.get("LOCALBASE_HOST") or "127.0.0.1",
        port=_port(_first(port, env_int("LOCALBASE_PORT"), int(api.get("port", DEFAULT_API_PORT))),
                   "--port / LOCALBASE_PORT / [api] port"),
        db_port=_port(_first(db_port, env_int("LOCALBASE_DB_PORT"), int(db.get("port", DEFAULT_DB_PORT))),
                      "--db-port / LOCALBASE_DB_PORT / [db] port"),
        db_url=_database_url(db_url or os.environ.get("DATABASE_URL"), "--db-url" if db_url else "DATABASE_URL"),
        jwt_expiry=env_int("LOCALBASE_JWT_EXPIRY") or int(auth.get("jwt_expiry", 3600)),
        api_schemas=tuple(api.get("schemas", DEFAULT_SCHEMAS)),
        extra_search_path=tuple(api.get("extra_search_path", ("public", "extensions"))),
        max_rows=int(max_rows) if max_rows else None,
        mode=choice(os.environ.get("LOCALBASE_MODE") or local.get("mode", "development"),
                    "LOCALBASE_MODE / [localbase] mode", MODES),
        log_format=log_format,
        access_log=access_log,
        metrics_public=parse_bool(local.get("metrics_public", False), "[localbase] metrics_public")
        if metrics_public is None else metrics_public,
        limits=Limits.from_config(config),
        studio=studio_settings,
        cluster_template=_cluster_template(db),
        cache_dir=_cache_dir(),
        config=config,
    )
    from localbase.security.key_settings import check_fixed_keys, configured, fixed_keys, signing_keys_of
    try:
        nodes = node_settings(config.get("nodes", {}), node_id)
        replicas = read_replica_settings(db, db_read_urls)
    except NodeSettingsError as exc:
        raise SettingsError(str(exc)) from None
    role_secret = configured(db, "role_secret", "LOCALBASE_DB_ROLE_SECRET")
    if replicas.enabled and not settings.db_url:
        raise SettingsError("read replicas (--db-read-url) need the primary given by --db-url / DATABASE_URL "
                            "(the embedded PostgreSQL has none)")
    if role_secret is not None and len(role_secret) < 16:
        raise SettingsError("LOCALBASE_DB_ROLE_SECRET / [db] role_secret must be at least 16 characters")
    settings = replace(settings, db_password=_db_password(db, settings.mode), trusted_proxies=_trusted_proxies(api),
                       nodes=nodes, read_replicas=replicas, db_role_secret=role_secret)
    if not with_keys:
        return settings
    fixed = fixed_keys(auth)
    if nodes.named:
        _require_shared_keys(fixed)
    signing = signing_keys_of(settings, auth)
    try:
        keys = load_or_create(settings.data_dir, fixed=fixed)
    except OSError as exc:  # not a folder, read-only, full: say which folder, not a traceback
        where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(settings.data_dir) else ""
        raise SettingsError(f"cannot use the data folder {settings.data_dir}: {exc.strerror or exc}{where}") from None
    settings = settings.with_keys(keys, signing)
    check_fixed_keys(settings, fixed)
    return settings
