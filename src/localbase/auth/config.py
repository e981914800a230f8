"""Typed auth settings: supabase/config.toml's [auth], [auth.email], [auth.rate_limit],
[auth.email.smtp] sections, overridden by LOCALBASE_AUTH_* environment variables.

Names follow the Supabase CLI's config.toml (site_url, enable_signup, minimum_password_length,
[auth.email] enable_confirmations, ...); the environment variable for a key is
LOCALBASE_AUTH_<KEY> for [auth], LOCALBASE_AUTH_EMAIL_<KEY> for [auth.email] and
LOCALBASE_AUTH_RATE_LIMIT_<KEY> for [auth.rate_limit], e.g. LOCALBASE_AUTH_EMAIL_ENABLE_CONFIRMATIONS=true.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from localbase.config_values import choice, parse_bool, parse_seconds
from localbase.security.signing_keys import KeyRing
from localbase.settings import Settings, SettingsError

PASSWORD_REQUIREMENTS = ("", "letters_digits", "lower_upper_letters_digits",
                         "lower_upper_letters_digits_symbols")


@dataclass(frozen=True)
class RateLimits:
    """Requests allowed per window. Per IP and per email address (a window of 5 minutes, as
    Supabase's sign-in / verification limits), and mails sent per address per hour."""

    window_s: int = 300
    sign_in_sign_ups: int = 300          # per IP per window (sign-up, password sign-in, anonymous)
    sign_in_sign_ups_per_email: int = 30  # per email address per window
    token_refresh: int = 1500            # per IP per window
    token_verifications: int = 300       # per IP per window (verify OTP / token hash)
    otp_and_recovery: int = 300          # per IP per window (/otp, /recover, /resend)
    email_sent: int = 30                 # mails per address per hour
    sms_sent: int = 30                   # text messages per phone number per hour
    anonymous_users: int = 300           # anonymous sign-ins per IP per hour


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 25
    user: str = ""
    password: str = ""
    sender: str = "noreply@localbase.local"
    sender_name: str = "Localbase"
    tls: bool = False  # implicit TLS (smtps); STARTTLS is used when the server offers it


@dataclass(frozen=True)
class SmsConfig:
    """[auth.sms]: phone sign-up / sign-in with one-time codes. Without an SMS provider the codes
    land in the local outbox (auth.localbase_sms_outbox); `test_otp` fixes the code of some
    numbers (and sends nothing for them), as the Supabase CLI's config offers."""

    enable_signup: bool = False  # the phone provider is on
    enable_confirmations: bool = False  # off: a phone sign-up is confirmed at once
    max_frequency_s: int = 5  # minimum seconds between two codes to one number
    template: str = "Your code is {{ .Code }}"
    otp_length: int = 6
    otp_expiry: int = 60  # seconds (GoTrue's SMS default)
    test_otp: tuple[tuple[str, str], ...] = ()  # (number without '+', code)

    @property
    def autoconfirm(self) -> bool:
        return not self.enable_confirmations

    def test_code(self, phone: str) -> str | None:
        return dict(self.test_otp).get(phone)


@dataclass(frozen=True)
class AuthConfig:
    jwt_secret: str
    jwt_expiry: int
    api_url: str
    keys: KeyRing = field(default_factory=lambda: KeyRing(""))  # signs (current key) and verifies tokens
    site_url: str = "http://127.0.0.1:3000"
    additional_redirect_urls: tuple[str, ...] = ()
    enable_signup: bool = True
    enable_email_signup: bool = True
    enable_anonymous_sign_ins: bool = False
    enable_confirmations: bool = False
    secure_password_change: bool = False  # a password change needs a fresh (24 h) sign-in or a nonce
    enable_refresh_token_rotation: bool = True
    refresh_token_reuse_interval: int = 10
    minimum_password_length: int = 6
    password_requirements: str = ""
    otp_length: int = 6
    otp_expiry: int = 3600
    max_frequency_s: int = 1  # minimum seconds between two mails of one kind to one address
    bcrypt_cost: int = 10
    rate_limits: RateLimits = RateLimits()
    smtp: SmtpConfig | None = None
    # [auth.hook.custom_access_token] uri = "pg-functions://postgres/<schema>/<function>"
    access_token_hook: tuple[str, str] | None = None
    oauth_server: bool = False  # [auth.oauth_server] enabled: the OAuth 2.1 server's client admin API
    sms: SmsConfig = SmsConfig()

    @property
    def issuer(self) -> str:
        return f"{self.api_url}/auth/v1"

    @property
    def autoconfirm(self) -> bool:
        return not self.enable_confirmations


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return None if value in (None, "") else value


def _pick(section: dict[str, Any], key: str, env_prefix: str, default: Any) -> Any:
    """`key` of a config.toml section, or its environment variable (which wins), as the default's type."""
    name = f"{env_prefix}{key.upper()}"
    raw = _env(name)
    value = section.get(key, default) if raw is None else raw
    where = name if raw is not None else \
        f"supabase/config.toml [{env_prefix.removeprefix('LOCALBASE_').rstrip('_').lower().replace('_', '.', 1)}] {key}"
    if isinstance(default, bool):
        return parse_bool(value, where)
    if isinstance(default, int):
        try:
            return int(value)
        except (TypeError, ValueError):
            raise SettingsError(f"{where} must be an integer, got {value!r}") from None
    if isinstance(default, tuple):
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        if not isinstance(value, (list, tuple)):
            raise SettingsError(f"{where} must be a list, got {value!r}")
        return tuple(str(v) for v in value)
    return value


def _pick_email(section: dict[str, Any], key: str, default: Any) -> Any:
    """[auth.email] keys: LOCALBASE_AUTH_EMAIL_<KEY>, or the shorter LOCALBASE_AUTH_<KEY>."""
    if _env(f"LOCALBASE_AUTH_{key.upper()}") is not None and _env(f"LOCALBASE_AUTH_EMAIL_{key.upper()}") is None:
        return _pick({}, key, "LOCALBASE_AUTH_", default)
    return _pick(section, key, "LOCALBASE_AUTH_EMAIL_", default)


def _smtp(settings: Settings) -> SmtpConfig | None:
    from urllib.parse import unquote, urlsplit

    url = _env("LOCALBASE_AUTH_SMTP_URL")
    if url:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise SettingsError("LOCALBASE_AUTH_SMTP_URL must look like smtp://user:pass@host:port")
        return SmtpConfig(host=parts.hostname, port=parts.port or (465 if parts.scheme == "smtps" else 25),
                          user=unquote(parts.username or ""), password=unquote(parts.password or ""),
                          sender=_env("LOCALBASE_AUTH_SMTP_ADMIN_EMAIL") or SmtpConfig.sender,
                          tls=parts.scheme == "smtps")
    section = settings.section("auth.email.smtp")
    if not section or not section.get("enabled", True) or not section.get("host"):
        return None
    return SmtpConfig(host=str(section["host"]), port=int(section.get("port", 25)),
                      user=str(section.get("user", "")), password=str(section.get("pass", "")),
                      sender=str(section.get("admin_email", SmtpConfig.sender)),
                      sender_name=str(section.get("sender_name", SmtpConfig.sender_name)),
                      tls=int(section.get("port", 25)) == 465)


def load_auth_config(settings: Settings) -> AuthConfig:
    auth = settings.section("auth")
    email = settings.section("auth.email")
    limits = settings.section("auth.rate_limit")
    a, r = "LOCALBASE_AUTH_", "LOCALBASE_AUTH_RATE_LIMIT_"
    d = AuthConfig.__dataclass_fields__
    rl = RateLimits()
    rate_limits = RateLimits(**{name: int(_pick(limits, name, r, getattr(rl, name)))
                                for name in RateLimits.__dataclass_fields__})
    requirements = choice(_pick(auth, "password_requirements", a, ""),
                          "LOCALBASE_AUTH_PASSWORD_REQUIREMENTS" if _env("LOCALBASE_AUTH_PASSWORD_REQUIREMENTS")
                          else "supabase/config.toml [auth] password_requirements", PASSWORD_REQUIREMENTS)
    return AuthConfig(
        jwt_secret=settings.jwt_secret,
        jwt_expiry=settings.jwt_expiry,
        keys=settings.keyring,
        api_url=str(_pick(auth, "external_url", a, settings.api_url)).rstrip("/"),
        site_url=str(_pick(auth, "site_url", a, d["site_url"].default)).rstrip("/"),
        additional_redirect_urls=tuple(_pick(auth, "additional_redirect_urls", a, ())),
        enable_signup=bool(_pick(auth, "enable_signup", a, True)),
        enable_email_signup=bool(_pick_email(email, "enable_signup", True)),
        enable_anonymous_sign_ins=bool(_pick(auth, "enable_anonymous_sign_ins", a, False)),
        enable_confirmations=bool(_pick_email(email, "enable_confirmations", False)),
        secure_password_change=bool(_pick_email(email, "secure_password_change", False)),
        enable_refresh_token_rotation=bool(_pick(auth, "enable_refresh_token_rotation", a, True)),
        refresh_token_reuse_interval=int(_pick(auth, "refresh_token_reuse_interval", a, 10)),
        minimum_password_length=int(_pick(auth, "minimum_password_length", a, 6)),
        password_requirements=requirements,
        otp_length=int(_pick_email(email, "otp_length", 6)),
        otp_expiry=int(_pick_email(email, "otp_expiry", 3600)),
        max_frequency_s=_duration_s(_pick_email(email, "max_frequency", "1s")),
        bcrypt_cost=int(_pick(auth, "bcrypt_cost", a, 10)),
        rate_limits=rate_limits,
        smtp=_smtp(settings),
        access_token_hook=_access_token_hook(settings),
        oauth_server=bool(_pick(settings.section("auth.oauth_server"), "enabled", "LOCALBASE_AUTH_OAUTH_SERVER_",
                                False)),
        sms=_sms(settings),
    )


def _sms(settings: Settings) -> SmsConfig:
    """[auth.sms], overridden by LOCALBASE_AUTH_SMS_<KEY> (test_otp: LOCALBASE_AUTH_SMS_TEST_OTP as
    `number=code,number=code`)."""
    section, e, d = settings.section("auth.sms"), "LOCALBASE_AUTH_SMS_", SmsConfig()
    raw = _env(e + "TEST_OTP")
    pairs = dict(p.split("=", 1) for p in raw.split(",") if "=" in p) if raw else section.get("test_otp", {})
    if not isinstance(pairs, dict):
        raise SettingsError("[auth.sms.test_otp] must map phone numbers to codes")
    test_otp = tuple((str(k).strip().lstrip("+").replace(" ", ""), str(v).strip()) for k, v in pairs.items())
    return SmsConfig(enable_signup=bool(_pick(section, "enable_signup", e, d.enable_signup)),
                     enable_confirmations=bool(_pick(section, "enable_confirmations", e, d.enable_confirmations)),
                     max_frequency_s=_duration_s(_pick(section, "max_frequency", e, "5s"),
                                                 "supabase/config.toml [auth.sms] max_frequency"),
                     template=str(_pick(section, "template", e, d.template)),
                     otp_length=int(_pick(section, "otp_length", e, d.otp_length)),
                     otp_expiry=int(_pick(section, "otp_expiry", e, d.otp_expiry)),
                     test_otp=test_otp)


HOOK_URI = re.compile(r"pg-functions://[^/]+/([A-Za-z_][A-Za-z0-9_]*)/([A-Za-z_][A-Za-z0-9_]*)")


def _access_token_hook(settings: Settings) -> tuple[str, str] | None:
    """The Postgres function of [auth.hook.custom_access_token], as (schema, name)."""
    section = settings.section("auth.hook.custom_access_token")
    if not section or not section.get("enabled", False):
        return None
    uri = str(section.get("uri", ""))
    match = HOOK_URI.fullmatch(uri)
    if match is None:
        raise SettingsError("[auth.hook.custom_access_token] uri must be pg-functions://<database>/<schema>/<function> "
                            f"(got {uri!r}); HTTP hooks are not supported by Localbase")
    return match.group(1), match.group(2)


def _duration_s(value: Any, where: str = "supabase/config.toml [auth.email] max_frequency") -> int:
    """A duration setting ("1s", "5m", "1h" or a number of seconds), in whole seconds."""
    return int(parse_seconds(value, where, minimum=-1))
