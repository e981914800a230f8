"""Auth mails (confirmation, invite, magic link, recovery, email change): a link and a code.

Without SMTP settings they land in auth.localbase_mailbox, which a developer reads with
GET /auth/v1/localbase/mailbox?email=... (service_role key); with [auth.email.smtp] or
LOCALBASE_AUTH_SMTP_URL they are sent for real (smtplib, in a worker thread, imported then)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import asyncpg

from localbase.auth.config import AuthConfig, SmtpConfig

if TYPE_CHECKING:
    import smtplib

log = logging.getLogger("localbase.auth")

SUBJECTS = {
    "signup": "Confirm Your Signup",
    "invite": "You have been invited",
    "magiclink": "Your Magic Link",
    "recovery": "Reset Your Password",
    "email_change": "Confirm Email Change",
    "reauthentication": "Confirm Reauthentication",
}
INTROS = {
    "signup": "Follow this link to confirm your user:",
    "invite": "You have been invited to create a user. Follow this link to accept the invite:",
    "magiclink": "Follow this link to log in:",
    "recovery": "Follow this link to reset the password for your user:",
    "email_change": "Follow this link to confirm the update of your email:",
}


class MailError(Exception):
    """The SMTP server refused or could not be reached (the client gets a 500)."""


def action_link(config: AuthConfig, token_hash: str, verification_type: str, redirect_to: str) -> str:
    query = urlencode({"token": token_hash, "type": verification_type, "redirect_to": redirect_to})
    return f"{config.issuer}/verify?{query}"


def render(mail_type: str, link: str, otp: str) -> tuple[str, str]:
    subject = SUBJECTS[mail_type]
    if mail_type == "reauthentication":  # a code to type in, no link
        return subject, f"{subject}\n\nEnter the code: {otp}\n"
    body = f"{subject}\n\n{INTROS[mail_type]}\n{link}\n\nAlternatively, enter the code: {otp}\n"
    return subject, body


async def send(conn: asyncpg.Connection, config: AuthConfig, *, to: str, mail_type: str, link: str,
               otp: str) -> None:
    subject, body = render(mail_type, link, otp)
    if config.smtp is None:
        await conn.execute(
            "insert into auth.localbase_mailbox (recipient, subject, body, mail_type, action_link, otp) "
            "values ($1, $2, $3, $4, $5, $6)", to, subject, body, mail_type, link, otp)
        return
    import smtplib  # with SMTP settings only (and on the first mail sent)
    try:
        await asyncio.to_thread(_smtp_send, config.smtp, to, subject, body)
    except (OSError, smtplib.SMTPException) as exc:
        log.error("sending %s mail over SMTP (%s:%d) failed: %s", mail_type, config.smtp.host,
                  config.smtp.port, type(exc).__name__)
        raise MailError("Error sending email") from exc


def _smtp_send(smtp: SmtpConfig, to: str, subject: str, body: str) -> None:
    import smtplib
    import ssl
    from email.message import EmailMessage
    from email.utils import formataddr
    msg = EmailMessage()
    msg["From"] = formataddr((smtp.sender_name, smtp.sender))
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    if smtp.tls:
        client: smtplib.SMTP = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=10,
                                                context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=10)
    with client:
        client.ehlo()
        if not smtp.tls and client.has_extn("starttls"):
            client.starttls(context=ssl.create_default_context())
            client.ehlo()
        if smtp.user:
            client.login(smtp.user, smtp.password)
        client.send_message(msg)


async def mailbox(conn: asyncpg.Connection, email: str | None, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """select id, created_at, recipient, subject, body, mail_type, action_link, otp
           from auth.localbase_mailbox where ($1::text is null or lower(recipient) = lower($1))
           order by id desc limit $2""", email, limit)
    return [dict(r) for r in rows]


async def clear_mailbox(conn: asyncpg.Connection, email: str | None) -> int:
    result = await conn.execute(
        "delete from auth.localbase_mailbox where ($1::text is null or lower(recipient) = lower($1))", email)
    return int(result.split()[-1])
