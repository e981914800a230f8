"""With LOCALBASE_AUTH_SMTP_URL set, auth mails go out over SMTP (to a local sink here) instead
of the local mailbox."""

from __future__ import annotations

import email
import time

from tests.localbase.auth.conftest import client, mailbox, new_email, signed_up


def test_magic_link_is_sent_over_smtp(smtp_localbase, smtp_sink):
    address = new_email("smtp")
    signed_up(smtp_localbase, address)
    client(smtp_localbase, flow_type="implicit").auth.sign_in_with_otp({"email": address})
    deadline = time.monotonic() + 5
    while not any(address in " ".join(m["rcpt"]) for m in smtp_sink.messages) and time.monotonic() < deadline:
        time.sleep(0.05)
    sent = [m for m in smtp_sink.messages if address in " ".join(m["rcpt"])]
    assert len(sent) == 1 and "auth@example.org" in sent[0]["from"] and sent[0]["auth"]
    message = email.message_from_string(sent[0]["data"])
    assert message["Subject"] == "Your Magic Link" and message["To"] == address
    body = message.get_payload()
    code = body.split("enter the code: ")[1].strip()[:6]
    assert client(smtp_localbase).auth.verify_otp({"email": address, "token": code, "type": "email"}).session
    assert mailbox(smtp_localbase, address) == []  # nothing kept locally when SMTP is configured
