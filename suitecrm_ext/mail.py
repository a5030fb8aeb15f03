"""Outgoing e-mail over SMTP (smtplib), configured by the ``smtp`` section."""

from __future__ import annotations

import smtplib
from collections.abc import Sequence
from email.message import EmailMessage
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from suitecrm_ext.config import SmtpSettings


class MailError(Exception):
    """Sending failed; the message says which server and why (never the password)."""


class Mailer:
    """Sends plain-text e-mails through the configured SMTP server."""

    def __init__(self, settings: SmtpSettings, timeout: float = 30.0):
        self.settings = settings
        self.timeout = timeout

    def send(self, to: Sequence[str], subject: str, body: str, *, sender: str | None = None) -> None:
        """Send one message to ``to``. Raises MailError."""
        msg = EmailMessage()
        msg["From"] = sender or self.settings.sender
        msg["To"] = ", ".join(to)
        msg["Subject"] = subject
        msg.set_content(body)
        self.send_message(msg)

    def send_message(self, msg: EmailMessage) -> None:
        """Send a message built by the caller (attachments, HTML, its own Message-ID); ``From`` defaults
        to the configured sender. Raises MailError."""
        s = self.settings
        if not msg["From"]:
            msg["From"] = s.sender
        try:
            with smtplib.SMTP(s.host, s.port, timeout=self.timeout) as smtp:
                if s.starttls:
                    smtp.starttls()
                if s.username:
                    smtp.login(s.username, s.password.get_secret_value() if s.password else "")
                smtp.send_message(msg)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(f"cannot send mail through {s.host}:{s.port}: {exc}") from exc
