"""Text messages of the auth service (phone one-time codes). Localbase has no SMS provider: they
land in auth.localbase_sms_outbox, which a developer reads with
GET /auth/v1/localbase/outbox?phone=... (service_role key), as the mailbox stands in for SMTP."""

from __future__ import annotations

from typing import Any

from localbase.auth.config import AuthConfig

CODE_PLACEHOLDERS = ("{{ .Code }}", "{{.Code}}")


def render(template: str, otp: str) -> str:
    """[auth.sms] template with GoTrue's `{{ .Code }}` filled in."""
    for placeholder in CODE_PLACEHOLDERS:
        template = template.replace(placeholder, otp)
    return template


async def send(conn: Any, config: AuthConfig, *, to: str, sms_type: str, otp: str) -> str:
    """Keep the message; its id is the message id the client gets (as a provider's would be)."""
    message_id = await conn.fetchval(
        "insert into auth.localbase_sms_outbox (recipient, body, sms_type, otp) values ($1, $2, $3, $4) returning id",
        to, render(config.sms.template, otp), sms_type, otp)
    return str(message_id)


async def outbox(conn: Any, phone: str | None, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """select id, created_at, recipient, body, sms_type, otp from auth.localbase_sms_outbox
           where ($1::text is null or recipient = $1) order by id desc limit $2""", phone, limit)
    return [dict(r) for r in rows]


async def clear_outbox(conn: Any, phone: str | None) -> int:
    result = await conn.execute(
        "delete from auth.localbase_sms_outbox where ($1::text is null or recipient = $1)", phone)
    return int(result.split()[-1])
