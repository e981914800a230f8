"""The auth service's routes, mounted by the gateway at /auth/v1 (GoTrue's paths)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from localbase.auth import account, admin, admin_mfa, errors, grants, links, mail, mfa, oauth_clients, phone, sms
from localbase.auth.access import PUBLIC, Access, Limit, anonymous_sign_up, grant_is, guarded, named_sign_up
from localbase.auth.context import Handler, endpoint, json, pool, service

VERSION = "v2.170.0-localbase"
PROVIDERS = ("apple", "azure", "bitbucket", "discord", "facebook", "figma", "fly", "github", "gitlab",
             "google", "keycloak", "kakao", "linkedin", "linkedin_oidc", "notion", "slack", "slack_oidc",
             "spotify", "twitch", "twitter", "workos", "zoom")


async def health(request: Request) -> Response:
    return json({"version": VERSION, "name": "GoTrue",
                 "description": "Localbase Auth: GoTrue-compatible authentication API"})


@endpoint
async def settings(request: Request) -> Response:
    cfg = service(request).config
    external = {name: False for name in PROVIDERS}
    external.update({"anonymous_users": cfg.enable_anonymous_sign_ins, "email": cfg.enable_email_signup,
                     "phone": cfg.sms.enable_signup, "saml": False})
    return json({"external": external, "disable_signup": not cfg.enable_signup,
                 "mailer_autoconfirm": cfg.autoconfirm,
                 "phone_autoconfirm": cfg.sms.enable_signup and cfg.sms.autoconfirm, "sms_provider": "",
                 "saml_enabled": False})


@endpoint
async def jwks(request: Request) -> Response:
    """The public signing keys ([auth] signing_keys_path), from which supabase-js's and
    supabase-py's getClaims() verify an asymmetric token themselves; none on a project that signs
    with its shared (HS256) secret only (the clients then verify through GET /user)."""
    return json(service(request).config.keys.jwks(), headers={"cache-control": "public, max-age=600"})


@endpoint
async def saml_disabled(request: Request) -> Response:
    """POST /sso and the SAML endpoints, as GoTrue answers them with SAML SSO off."""
    raise errors.SAML_PROVIDER_DISABLED()


def _box_limit(request: Request) -> int:
    """The `limit` of messages to read."""
    try:
        return min(500, max(1, int(request.query_params.get("limit") or 50)))
    except ValueError:
        raise errors.VALIDATION_FAILED("limit must be an integer") from None


@endpoint
async def mailbox(request: Request) -> Response:
    """Localbase only: the mails that would have been sent (service_role key required)."""
    limit = _box_limit(request)
    email = request.query_params.get("email") or None
    async with pool(request).acquire() as conn:
        if request.method == "DELETE":
            return json({"deleted": await mail.clear_mailbox(conn, email)})
        return json({"messages": await mail.mailbox(conn, email, limit)})


@endpoint
async def outbox(request: Request) -> Response:
    """Localbase only: the text messages (phone codes) that would have been sent."""
    limit = _box_limit(request)
    number = phone.format_phone(request.query_params.get("phone")) or None
    async with pool(request).acquire() as conn:
        if request.method == "DELETE":
            return json({"deleted": await sms.clear_outbox(conn, number)})
        return json({"messages": await sms.outbox(conn, number, limit)})


# Who may call what, and how often (per client IP; see auth/access.py). GoTrue limits the same routes.
ADMIN = Access(admin=True)
LOCAL_BOX = Access(service_key=True)
SIGN_UP = Access(limits=(Limit("sign_in_sign_ups", when=named_sign_up),
                         Limit("anonymous_users", window_s=3600, when=anonymous_sign_up)))
TOKEN = Access(limits=(Limit("sign_in_sign_ups", when=grant_is("password")),
                       Limit("token_refresh", when=grant_is("refresh_token"))))
MAIL = Access(limits=(Limit("otp_and_recovery"),))
VERIFY = Access(limits=(Limit("token_verifications"),))

# Paths the gateway lets through without an API key (GoTrue's browser-facing ones, and health).
PUBLIC_PATHS = ("/verify", "/callback", "/authorize", "/health", "/.well-known/")


def route(path: str, handler: Handler, methods: list[str], access: Access = PUBLIC) -> Route:
    return Route(path, guarded(handler, access), methods=methods)


def routes() -> list[BaseRoute]:
    return [
        route("/health", health, ["GET", "HEAD"]),
        route("/settings", settings, ["GET"]),
        route("/.well-known/jwks.json", jwks, ["GET"]),
        route("/signup", grants.signup, ["POST"], SIGN_UP),
        route("/token", grants.token, ["POST"], TOKEN),
        route("/user", account.get_user, ["GET"]),
        route("/user", account.update_user, ["PUT"]),
        route("/logout", account.logout, ["POST"]),
        route("/reauthenticate", account.reauthenticate, ["GET"]),
        route("/factors", mfa.enroll, ["POST"]),
        route("/factors/{factor_id}/challenge", mfa.challenge, ["POST"]),
        route("/factors/{factor_id}/verify", mfa.verify, ["POST"], VERIFY),
        route("/factors/{factor_id}", mfa.unenroll, ["DELETE"]),
        route("/otp", links.send_otp, ["POST"], MAIL),
        route("/magiclink", links.send_otp, ["POST"], MAIL),
        route("/recover", links.recover, ["POST"], MAIL),
        route("/resend", links.resend, ["POST"], MAIL),
        route("/verify", links.verify_post, ["POST"], VERIFY),
        route("/verify", links.verify_get, ["GET"], VERIFY),
        route("/invite", admin.invite, ["POST"], ADMIN),
        route("/admin/users", admin.list_users, ["GET"], ADMIN),
        route("/admin/users", admin.create_user, ["POST"], ADMIN),
        route("/admin/users/{user_id}", admin.get_user, ["GET"], ADMIN),
        route("/admin/users/{user_id}", admin.update_user, ["PUT"], ADMIN),
        route("/admin/users/{user_id}", admin.delete_user, ["DELETE"], ADMIN),
        route("/admin/users/{user_id}/factors", admin_mfa.list_factors, ["GET"], ADMIN),
        route("/admin/users/{user_id}/factors/{factor_id}", admin_mfa.update_factor, ["PUT"], ADMIN),
        route("/admin/users/{user_id}/factors/{factor_id}", admin_mfa.delete_factor, ["DELETE"], ADMIN),
        route("/admin/generate_link", admin.generate_link, ["POST"], ADMIN),
        route("/admin/oauth/clients", oauth_clients.list_clients, ["GET"], ADMIN),
        route("/admin/oauth/clients", oauth_clients.create, ["POST"], ADMIN),
        route("/admin/oauth/clients/{client_id}", oauth_clients.get, ["GET"], ADMIN),
        route("/admin/oauth/clients/{client_id}", oauth_clients.update, ["PUT"], ADMIN),
        route("/admin/oauth/clients/{client_id}", oauth_clients.delete, ["DELETE"], ADMIN),
        route("/admin/oauth/clients/{client_id}/regenerate_secret", oauth_clients.regenerate_secret, ["POST"],
              ADMIN),
        route("/sso", saml_disabled, ["POST"]),
        route("/sso/saml/metadata", saml_disabled, ["GET"]),
        route("/sso/saml/acs", saml_disabled, ["POST"]),
        route("/localbase/mailbox", mailbox, ["GET", "DELETE"], LOCAL_BOX),
        route("/localbase/outbox", outbox, ["GET", "DELETE"], LOCAL_BOX),
    ]
