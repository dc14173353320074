"""Outgoing e-mail: SMTP when configured, the server log on the embedded default."""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from email.utils import make_msgid

from auth_server.config import Settings
from auth_server.metrics import EMAILS

logger = logging.getLogger("auth_server.mail")

RULE = "=" * 72
DEVELOPMENT_MAIL = f"E-mail (no SMTP_HOST set)\n{RULE}\n  To:      %s\n  Subject: %s\n\n%s\n%s"


class Mailer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def send(self, to: str, subject: str, body: str) -> None:
        """Deliver one message; failures are logged, never raised into a request."""
        message = EmailMessage()
        message["From"] = self.settings.mail_from
        message["To"] = to
        message["Subject"] = subject
        message["Message-ID"] = make_msgid(domain="rozitech.local")
        message.set_content(body)
        if not self.settings.smtp_host:
            # Development: the message goes to the log, framed so that its code or link
            # stands out among the request lines.
            logger.warning(DEVELOPMENT_MAIL, to, subject, body.strip(), RULE)
            return
        try:
            self._send_smtp(message)
        except (OSError, smtplib.SMTPException):
            EMAILS.labels("failed").inc()
            logger.exception("Could not send e-mail %r to %s", subject, to)
        else:
            EMAILS.labels("sent").inc()

    def _send_smtp(self, message: EmailMessage) -> None:
        s = self.settings
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout) as smtp:
            if s.smtp_starttls:
                smtp.starttls()
            if s.smtp_user:
                smtp.login(s.smtp_user, s.smtp_password.get_secret_value())
            smtp.send_message(message)
