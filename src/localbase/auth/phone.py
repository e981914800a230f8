"""Phone sign-up and sign-in with one-time codes, as GoTrue answers them ([auth.sms] enable_signup):

- POST /signup {phone, password}: a session at once (confirmations off, the default), else a code;
- POST /otp {phone, create_user?}: a code (type `sms`), the user created when new;
- POST /verify {phone, token, type: sms | phone_change}: the code -> a session;
- POST /resend {phone, type: sms | phone_change}; POST /token?grant_type=password {phone, password};
- PUT /user {phone}: a code to the new number (type `phone_change`), or the change at once.

Numbers are E.164, kept without '+' (as GoTrue). The codes go to the local outbox (sms.py), or
are the fixed `[auth.sms.test_otp]` code of a number (nothing sent then, as GoTrue)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from localbase.auth import errors, otp, passwords, sessions, sms, tokens, users
from localbase.auth.context import AuthService, client_ip, json, pool, service

E164 = re.compile(r"[1-9][0-9]{1,14}")
INVALID_PHONE = "Invalid phone number format (E.164 required)"
INVALID_CHANNEL = ("Invalid channel, supported values are 'sms' or 'whatsapp'. 'whatsapp' is only supported if "
                   "Twilio or Twilio Verify is used as the provider.")
TEST_MESSAGE_ID = "test-otp"


def format_phone(raw: Any) -> str:
    """GoTrue's normalization: no leading '+', no spaces."""
    return str(raw).removeprefix("+").replace(" ", "") if isinstance(raw, str) else ""


def validate_phone(raw: Any) -> str:
    phone = format_phone(raw)
    if not E164.fullmatch(phone):
        raise errors.VALIDATION_FAILED(INVALID_PHONE)
    return phone


def _check_channel(data: dict[str, Any]) -> None:
    if data.get("channel") not in (None, "", "sms"):  # WhatsApp needs a Twilio provider
        raise errors.VALIDATION_FAILED(INVALID_CHANNEL)


def _provider_on(svc: AuthService, message: str,
                 code: errors.Code = errors.PHONE_PROVIDER_DISABLED) -> None:
    if not svc.config.sms.enable_signup:
        raise code(message)


async def send_code(conn, svc: AuthService, user: dict[str, Any], kind: str, phone: str) -> str:
    """A new code of `kind` (sms, phone_change) to `phone`; returns the message id."""
    cfg = svc.config
    await otp.check_frequency(conn, user["id"], kind, cfg.sms.max_frequency_s, errors.OVER_SMS_SEND_RATE_LIMIT)
    code = cfg.sms.test_code(phone)
    if code is None:
        await svc.limiter.hit("sms_sent", phone, cfg.rate_limits.sms_sent, 3600, errors.OVER_SMS_SEND_RATE_LIMIT,
                              conn=conn)
        code = tokens.new_otp(cfg.sms.otp_length)
        message_id = await sms.send(conn, cfg, to=phone, sms_type=kind, otp=code)
    else:
        message_id = TEST_MESSAGE_ID
    await otp.store(conn, user["id"], kind, tokens.token_hash(phone, code), phone)
    return message_id


def _metadata(data: dict[str, Any]) -> dict[str, Any]:
    meta = data.get("data")
    if meta is not None and not isinstance(meta, dict):
        raise errors.VALIDATION_FAILED("data must be a JSON object")
    return meta or {}


async def signup(request: Request, data: dict[str, Any]) -> Response:
    svc = service(request)
    cfg = svc.config
    if data.get("email"):
        raise errors.VALIDATION_FAILED("Only an email address or phone number should be provided on signup.")
    if not cfg.enable_signup:
        raise errors.SIGNUP_DISABLED()
    _provider_on(svc, "Phone signups are disabled")
    _check_channel(data)
    phone = validate_phone(data.get("phone"))
    password = data.get("password")
    if not isinstance(password, str) or not password:
        raise errors.VALIDATION_FAILED_UNPROCESSABLE("Signup requires a valid password")
    passwords.check_policy(password, cfg)
    meta = _metadata(data)
    hashed = await passwords.hash_password(password, cfg.bcrypt_cost)
    async with pool(request).acquire() as conn:
        async with conn.transaction():
            user = await users.by_phone(conn, phone)
            if user is not None and user.get("phone_confirmed_at") is not None:
                if cfg.sms.autoconfirm or cfg.autoconfirm:
                    raise errors.USER_ALREADY_EXISTS()
                return json(_obfuscated_user(phone, meta))  # reveals no account
            if user is None:
                user = await users.create(conn, email=None, phone=phone, encrypted_password=hashed,
                                          user_metadata=meta, phone_confirmed=cfg.sms.autoconfirm)
            elif cfg.sms.autoconfirm:
                await users.confirm_phone(conn, user["id"])
            if not cfg.sms.autoconfirm:
                await send_code(conn, svc, user, "sms", phone)
                return json(users.to_json(await users.reload(conn, user["id"], errors.USER_NOT_FOUND_FORBIDDEN)))
            fresh = await users.reload(conn, user["id"], errors.USER_NOT_FOUND_FORBIDDEN)
            return json(await sessions.start(conn, cfg, fresh, "password", ip=client_ip(request),
                                             user_agent=request.headers.get("user-agent")))


def _obfuscated_user(phone: str, meta: dict[str, Any]) -> dict[str, Any]:
    now = users.now()
    return {"id": str(uuid.uuid4()), "aud": "authenticated", "role": "authenticated", "email": "", "phone": phone,
            "confirmation_sent_at": now, "app_metadata": {"provider": "phone", "providers": ["phone"]},
            "user_metadata": meta, "identities": [], "created_at": now, "updated_at": now, "is_anonymous": False}


async def send_otp(request: Request, data: dict[str, Any]) -> Response:
    svc = service(request)
    cfg = svc.config
    _provider_on(svc, "Unsupported phone provider")
    _check_channel(data)
    phone = validate_phone(data.get("phone"))
    async with pool(request).acquire() as conn:
        async with conn.transaction():
            user = await users.by_phone(conn, phone)
            if user is None:
                if data.get("create_user") is False or not cfg.enable_signup:
                    raise errors.OTP_DISABLED()
                user = await users.create(conn, email=None, phone=phone, encrypted_password=None,
                                          user_metadata=_metadata(data), phone_confirmed=cfg.sms.autoconfirm)
            if users.is_banned(user):
                raise errors.USER_BANNED()
            message_id = await send_code(conn, svc, user, "sms", phone)
    return json({"message_id": message_id})


async def resend(request: Request, data: dict[str, Any], kind: str) -> Response:
    svc = service(request)
    if data.get("email"):
        raise errors.VALIDATION_FAILED("Only an email address or phone number should be provided.")
    if not data.get("phone"):
        raise errors.VALIDATION_FAILED("Type provided requires a phone number")
    _provider_on(svc, "Phone logins are disabled")
    phone = validate_phone(data.get("phone"))
    async with pool(request).acquire() as conn:
        async with conn.transaction():
            user = await users.by_phone(conn, phone)
            if user is None or (kind == "sms" and user.get("phone_confirmed_at") is not None) \
                    or (kind == "phone_change" and not user.get("phone_change")):
                return json({})
            message_id = await send_code(conn, svc, user, kind, phone if kind == "sms" else user["phone_change"])
    return json({"message_id": message_id})


async def verify(request: Request, data: dict[str, Any]) -> Response:
    """POST /verify with a phone number and its code."""
    svc = service(request)
    cfg = svc.config
    kind, code = data.get("type"), data.get("token")
    if not isinstance(kind, str) or not kind:
        raise errors.VALIDATION_FAILED("Verify requires a verification type")
    phone = validate_phone(data.get("phone"))
    if not isinstance(code, str) or not code:
        raise errors.VALIDATION_FAILED("Verify requires either a token or a token hash")
    async with pool(request).acquire() as conn:
        async with conn.transaction():
            column = {"sms": "phone", "phone_change": "phone_change"}.get(kind)
            found = await conn.fetchval(f"select id from auth.users where {column} = $1", phone) if column else None
            if found is None:
                raise errors.OTP_EXPIRED()
            test_code = cfg.sms.test_code(phone)
            if test_code is None or not tokens.same(code, test_code):
                user_id, _, _ = await otp.consume(conn, cfg, kind, email=phone, otp=code, phone=True)
                if user_id != found:
                    raise errors.OTP_EXPIRED()
            user = await users.by_id(conn, found)
            if user is None or users.is_banned(user):
                raise errors.USER_BANNED_FORBIDDEN()
            if kind == "sms":
                await users.confirm_phone(conn, found)
            else:
                await users.set_phone(conn, found, phone)
            fresh = await users.reload(conn, found, errors.USER_NOT_FOUND_FORBIDDEN)
            return json(await sessions.start(conn, cfg, fresh, "otp", ip=client_ip(request),
                                             user_agent=request.headers.get("user-agent")))


async def password_grant(request: Request, data: dict[str, Any]) -> Response:
    svc = service(request)
    cfg = svc.config
    _provider_on(svc, "Phone logins are disabled", errors.PHONE_PROVIDER_DISABLED_UNPROCESSABLE)
    phone, password = format_phone(data.get("phone")), data.get("password")
    if not phone or not isinstance(password, str) or not password:
        raise errors.VALIDATION_FAILED("missing email or phone")
    limits = cfg.rate_limits
    await svc.limiter.hit("sign_in_sign_ups_email", phone, limits.sign_in_sign_ups_per_email, limits.window_s)
    async with pool(request).acquire() as conn:
        user = await users.by_phone(conn, phone)
    ok = await passwords.verify_password(password, user["encrypted_password"] if user else None, cfg.bcrypt_cost)
    if not ok or user is None or user.get("deleted_at") is not None:
        raise errors.INVALID_CREDENTIALS()
    if users.is_banned(user):
        raise errors.USER_BANNED()
    if user.get("phone_confirmed_at") is None:
        raise errors.PHONE_NOT_CONFIRMED()
    async with pool(request).acquire() as conn:
        return json(await sessions.start(conn, cfg, user, "password", ip=client_ip(request),
                                         user_agent=request.headers.get("user-agent")))


async def change(conn, svc: AuthService, user: dict[str, Any], data: dict[str, Any]) -> None:
    """PUT /user {phone} inside the caller's transaction: a code to the new number, or (SMS
    confirmations off) the new number at once."""
    _provider_on(svc, "Phone updates are disabled", errors.PHONE_PROVIDER_DISABLED_UNPROCESSABLE)
    _check_channel(data)
    phone = validate_phone(data.get("phone"))
    if phone == (user.get("phone") or ""):
        return
    taken = await users.by_phone(conn, phone)
    if taken is not None and taken["id"] != user["id"]:
        raise errors.PHONE_EXISTS()
    if svc.config.sms.autoconfirm:
        await users.set_phone(conn, user["id"], phone)
    else:
        await send_code(conn, svc, user, "phone_change", phone)
