"""Outgoing e-mail: SMTP when configured, the server log on the embedded default.

`Mailer.send` makes one delivery attempt and raises `MailNotSent` when it fails: the
outbox (outbox.py, mail_delivery.py) decides whether and when to try again.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage

from auth_server.config import Settings
from auth_server.metrics import EMAILS

logger = logging.getLogger("auth_server.mail")

RULE = "=" * 72
DEVELOPMENT_MAIL = f"E-mail (no SMTP_HOST set)\n{RULE}\n  To:      %s\n  Subject: %s\n\n%s\n%s"


@dataclass(frozen=True)
class OutgoingMail:
    to: str
    subject: str
    text: str
    html: str
    # The language of the texts (Content-Language), the catalogue's locale.
    language: str
    # Stable per outbox row: a mail sent again after a crash carries the same id, so
    # mail clients that deduplicate show it once.
    message_id: str


class MailNotSent(Exception):
    """One attempt failed. `permanent`: the server refused for good (5xx), retrying cannot
    help. `reason` names the failure without any server text (which may echo the mail)."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


def _message(mail: OutgoingMail, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Message-ID"] = mail.message_id
    # RFC 3834: no auto-responder should answer it (no reply loops with vacation mail).
    message["Auto-Submitted"] = "auto-generated"
    # multipart/alternative: the plain text first, the HTML part preferred by clients.
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    # After the parts: set_content drops the Content-* headers set before it.
    message["Content-Language"] = mail.language
    return message


def _failure(exc: Exception) -> MailNotSent:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = sorted({code for code, _ in exc.recipients.values()})
        return MailNotSent(
            f"SMTPRecipientsRefused {','.join(map(str, codes))}",
            permanent=all(code >= 500 for code in codes),
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return MailNotSent(f"{type(exc).__name__} {exc.smtp_code}", permanent=exc.smtp_code >= 500)
    return MailNotSent(type(exc).__name__, permanent=False)


class Mailer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def send(self, mail: OutgoingMail) -> None:
        """Delivers one message or raises MailNotSent."""
        try:
            message = _message(mail, self.settings.mail_from)
        except ValueError as exc:
            # A header the email package refuses (a line break in it): never sendable.
            raise MailNotSent(type(exc).__name__, permanent=True) from exc
        if not self.settings.smtp_host:
            # Development: the message goes to the log, framed so that its code or link
            # stands out among the request lines.
            logger.warning(DEVELOPMENT_MAIL, mail.to, mail.subject, mail.text.strip(), RULE)
            return
        try:
            self._send_smtp(message)
        except (OSError, smtplib.SMTPException) as exc:
            EMAILS.labels("failed").inc()
            raise _failure(exc) from exc
        EMAILS.labels("sent").inc()

    def _send_smtp(self, message: EmailMessage) -> None:
        s = self.settings
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout) as smtp:
            if s.smtp_starttls:
                smtp.starttls()
            if s.smtp_user:
                smtp.login(s.smtp_user, s.smtp_password.get_secret_value())
            smtp.send_message(message)
