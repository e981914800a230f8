"""The auth service's routes, mounted by the gateway at /auth/v1 (GoTrue's paths)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from localbase.auth import account, admin, admin_mfa, errors, grants, links, mail, mfa, oauth_clients, phone, sms
from localbase.auth.context import apikey_role, endpoint, json, pool, service

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


def _local_box(request: Request, what: str) -> int:
    """The service_role key is required; returns the `limit` of messages to read."""
    if apikey_role(request) != "service_role":
        raise errors.NOT_ADMIN(f"The {what} needs the service_role key")
    try:
        return min(500, max(1, int(request.query_params.get("limit") or 50)))
    except ValueError:
        raise errors.VALIDATION_FAILED("limit must be an integer") from None


@endpoint
async def mailbox(request: Request) -> Response:
    """Localbase only: the mails that would have been sent (service_role key required)."""
    limit = _local_box(request, "mailbox")
    email = request.query_params.get("email") or None
    async with pool(request).acquire() as conn:
        if request.method == "DELETE":
            return json({"deleted": await mail.clear_mailbox(conn, email)})
        return json({"messages": await mail.mailbox(conn, email, limit)})


@endpoint
async def outbox(request: Request) -> Response:
    """Localbase only: the text messages (phone codes) that would have been sent."""
    limit = _local_box(request, "outbox")
    number = phone.format_phone(request.query_params.get("phone")) or None
    async with pool(request).acquire() as conn:
        if request.method == "DELETE":
            return json({"deleted": await sms.clear_outbox(conn, number)})
        return json({"messages": await sms.outbox(conn, number, limit)})


def routes() -> list[BaseRoute]:
    return [
        Route("/health", health, methods=["GET", "HEAD"]),
        Route("/settings", settings, methods=["GET"]),
        Route("/.well-known/jwks.json", jwks, methods=["GET"]),
        Route("/signup", grants.signup, methods=["POST"]),
        Route("/token", grants.token, methods=["POST"]),
        Route("/user", account.get_user, methods=["GET"]),
        Route("/user", account.update_user, methods=["PUT"]),
        Route("/logout", account.logout, methods=["POST"]),
        Route("/reauthenticate", account.reauthenticate, methods=["GET"]),
        Route("/factors", mfa.enroll, methods=["POST"]),
        Route("/factors/{factor_id}/challenge", mfa.challenge, methods=["POST"]),
        Route("/factors/{factor_id}/verify", mfa.verify, methods=["POST"]),
        Route("/factors/{factor_id}", mfa.unenroll, methods=["DELETE"]),
        Route("/otp", links.send_otp, methods=["POST"]),
        Route("/magiclink", links.send_otp, methods=["POST"]),
        Route("/recover", links.recover, methods=["POST"]),
        Route("/resend", links.resend, methods=["POST"]),
        Route("/verify", links.verify_post, methods=["POST"]),
        Route("/verify", links.verify_get, methods=["GET"]),
        Route("/invite", admin.invite, methods=["POST"]),
        Route("/admin/users", admin.list_users, methods=["GET"]),
        Route("/admin/users", admin.create_user, methods=["POST"]),
        Route("/admin/users/{user_id}", admin.get_user, methods=["GET"]),
        Route("/admin/users/{user_id}", admin.update_user, methods=["PUT"]),
        Route("/admin/users/{user_id}", admin.delete_user, methods=["DELETE"]),
        Route("/admin/users/{user_id}/factors", admin_mfa.list_factors, methods=["GET"]),
        Route("/admin/users/{user_id}/factors/{factor_id}", admin_mfa.update_factor, methods=["PUT"]),
        Route("/admin/users/{user_id}/factors/{factor_id}", admin_mfa.delete_factor, methods=["DELETE"]),
        Route("/admin/generate_link", admin.generate_link, methods=["POST"]),
        Route("/admin/oauth/clients", oauth_clients.list_clients, methods=["GET"]),
        Route("/admin/oauth/clients", oauth_clients.create, methods=["POST"]),
        Route("/admin/oauth/clients/{client_id}", oauth_clients.get, methods=["GET"]),
        Route("/admin/oauth/clients/{client_id}", oauth_clients.update, methods=["PUT"]),
        Route("/admin/oauth/clients/{client_id}", oauth_clients.delete, methods=["DELETE"]),
        Route("/admin/oauth/clients/{client_id}/regenerate_secret", oauth_clients.regenerate_secret,
              methods=["POST"]),
        Route("/sso", saml_disabled, methods=["POST"]),
        Route("/sso/saml/metadata", saml_disabled, methods=["GET"]),
        Route("/sso/saml/acs", saml_disabled, methods=["POST"]),
        Route("/localbase/mailbox", mailbox, methods=["GET", "DELETE"]),
        Route("/localbase/outbox", outbox, methods=["GET", "DELETE"]),
    ]
