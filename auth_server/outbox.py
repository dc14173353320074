"""The mail outbox: every e-mail is a row written in the transaction of its cause.

Invariant: a mail exists if and only if the event that causes it (a sign-up, a new code, a
reset link, a password change, an invitation) committed. `enqueue` (or `render`, then `add`,
for a use case that must do the same work whether or not it mails) only adds a row to the
caller's session; the caller's one commit writes the event and its mail together, and a
rollback takes both. Nothing is sent from a request any more: a process that dies after the
commit loses nothing, the row waits for the next delivery pass (mail_delivery.py).

Rendering happens here, at enqueue time, in the locale the request negotiated: the worker
needs no request, and what is stored is exactly what will be sent. The bodies hold secrets
(codes, reset links): they are blanked as soon as the mail is sent or given up, and the
row itself (recipient, subject, attempts, times, last error) is deleted by `purge` after
MAIL_RETENTION_DAYS.

Claims. Several processes deliver at once (server replicas, `mail-worker`s). A pass claims
due rows in one UPDATE whose WHERE re-checks "pending and due": on PostgreSQL its subquery
takes the rows `FOR UPDATE SKIP LOCKED` (concurrent claimers take different rows, nobody
waits); on SQLite the UPDATE is the transaction's first statement, so it runs holding the
one write lock. A claim moves `next_attempt_at` to the end of a lease (MAIL_CLAIM_SECONDS,
longer than any SMTP conversation) and sets a claim token; its outcome is recorded only
under that token. So a mail is never sent twice on purpose; it is sent twice only when a
process dies between the SMTP server's "250" and recording it (at-least-once, with the same
Message-ID). Times are the database's (clock.py), so replicas' leases agree.
(Rejected: a lock in Python, which other processes cannot see; holding a transaction open
during the SMTP conversation, which would hold a connection and, on SQLite, the write lock.)
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import delete, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, sessionmaker

from auth_server.clock import Clock
from auth_server.config import Settings
from auth_server.i18n import CATALOGUES, Catalogues
from auth_server.mailer import MailNotSent, OutgoingMail
from auth_server.models import OutboxMail

logger = logging.getLogger("auth_server.outbox")

MailTemplate = Literal[
    "verification_code",
    "password_reset",
    "password_changed",
    "invitation",
    "recovery_code_used",
    "mfa_reset",
]

PENDING, SENT, FAILED = "pending", "sent", "failed"
_ENQUEUED = "mail_outbox_enqueued"


@dataclass(frozen=True)
class RenderedMail:
    template: MailTemplate
    locale: str
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class ClaimedMail:
    """A mail this process holds (until its lease ends) and may now try to send."""

    id: uuid.UUID
    claim_token: uuid.UUID
    attempts: int
    mail: OutgoingMail


class MailOutbox:
    def __init__(
        self, settings: Settings, clock: Clock, catalogues: Catalogues = CATALOGUES
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.catalogues = catalogues
        # Called after a commit that enqueued mail (the embedded delivery's wake-up).
        self.committed_hooks: list[Callable[[], None]] = []

    def attach(self, factory: sessionmaker[Session]) -> None:
        """Wakes delivery once a transaction that enqueued mail has committed (never before:
        a rolled-back sign-up must not send its code)."""
        sa_event.listen(factory, "after_commit", self._after_commit)
        sa_event.listen(factory, "after_rollback", self._after_rollback)

    def _after_commit(self, db: Session) -> None:
        if db.info.pop(_ENQUEUED, False):
            for hook in self.committed_hooks:
                hook()

    def _after_rollback(self, db: Session) -> None:
        db.info.pop(_ENQUEUED, None)

    # -- enqueue -----------------------------------------------------------------------

    def enqueue(
        self, db: Session, *, to: str, template: MailTemplate, locale: str, **context: Any
    ) -> None:
        """Adds the mail, rendered now in `locale`, to the caller's transaction (no commit).

        Templates: `templates/mail/<template>.subject.txt`, `.txt` and `.html`."""
        self.add(db, to, self.render(template, locale, **context))

    def render(self, template: MailTemplate, locale: str, **context: Any) -> RenderedMail:
        """The mail's texts, without writing anything (see `add`)."""
        render = self.catalogues.render
        # One line, whatever the template and its values give: a line break in a header
        # (an organization's name in an invitation) would let it write headers of its own.
        subject = " ".join(render(f"mail/{template}.subject.txt", locale, **context).split())
        return RenderedMail(
            template=template,
            locale=locale,
            subject=subject[:300],
            text=render(f"mail/{template}.txt", locale, **context),
            html=render(f"mail/{template}.html", locale, **context),
        )

    def add(self, db: Session, to: str, mail: RenderedMail) -> None:
        """Adds a rendered mail to the caller's transaction (no commit). Apart from
        `enqueue` for a use case that must do the same work whether or not it mails."""
        with db.no_autoflush:
            # The caller's pending writes stay unflushed: a conflict among them (two
            # sign-ups for one address) must surface at the caller's commit, where it is
            # handled, not here.
            now = self.clock.database_now(db)
        db.add(
            OutboxMail(
                id=uuid.uuid4(),
                recipient=to,
                template=mail.template,
                locale=mail.locale,
                subject=mail.subject,
                text_body=mail.text,
                html_body=mail.html,
                status=PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
        db.info[_ENQUEUED] = True

    # -- delivery ----------------------------------------------------------------------

    def claim(self, db: Session) -> list[ClaimedMail]:
        """Claims up to MAIL_BATCH_SIZE due mails for this caller and commits (module doc)."""
        now = self.clock.database_now(db)
        token = uuid.uuid4()
        due = (OutboxMail.status == PENDING, OutboxMail.next_attempt_at <= now)
        candidates = (
            select(OutboxMail.id)
            .where(*due)
            .order_by(OutboxMail.next_attempt_at)
            .limit(self.settings.mail_batch_size)
            # PostgreSQL: rows another claimer holds are skipped, not waited for (SQLite
            # has no row locks and renders nothing here: its write lock serializes claims).
            .with_for_update(skip_locked=True)
        )
        claimed_ids = db.scalars(
            update(OutboxMail)
            # "Pending and due" again: the compare-and-set that a concurrent claim of the
            # same row (committed first) makes fail.
            .where(OutboxMail.id.in_(candidates.scalar_subquery()), *due)
            .values(
                attempts=OutboxMail.attempts + 1,
                next_attempt_at=now + timedelta(seconds=self.settings.mail_claim_seconds),
                claim_token=token,
            )
            .returning(OutboxMail.id)
        ).all()
        if not claimed_ids:
            db.commit()
            return []
        rows = db.scalars(select(OutboxMail).where(OutboxMail.id.in_(claimed_ids))).all()
        db.commit()
        return [
            ClaimedMail(row.id, token, row.attempts, _outgoing(row))
            for row in sorted(rows, key=lambda r: r.next_attempt_at)
        ]

    def record_sent(self, db: Session, claimed: ClaimedMail) -> None:
        self._record(
            db,
            claimed,
            status=SENT,
            sent_at=self.clock.database_now(db),
            last_error=None,
            **_BLANK,
        )

    def record_failure(self, db: Session, claimed: ClaimedMail, failure: MailNotSent) -> None:
        """Schedules the next attempt with back-off, or gives the mail up (permanent refusal,
        or MAIL_MAX_ATTEMPTS reached) and blanks its bodies."""
        if failure.permanent or claimed.attempts >= self.settings.mail_max_attempts:
            logger.error(
                "Mail %s given up after %d attempt(s): %s",
                claimed.id,
                claimed.attempts,
                failure.reason,
            )
            self._record(db, claimed, status=FAILED, last_error=failure.reason, **_BLANK)
            return
        delay = self.retry_delay(claimed.attempts)
        logger.warning(
            "Mail %s not sent (attempt %d: %s); next attempt in %.0f s",
            claimed.id,
            claimed.attempts,
            failure.reason,
            delay,
        )
        self._record(
            db,
            claimed,
            next_attempt_at=self.clock.database_now(db) + timedelta(seconds=delay),
            last_error=failure.reason,
        )

    def retry_delay(self, attempts: int) -> float:
        """Seconds before the next attempt after `attempts` failed ones: doubling, capped."""
        s = self.settings
        return float(min(s.mail_retry_max, s.mail_retry_base * 2 ** min(attempts - 1, 30)))

    def _record(self, db: Session, claimed: ClaimedMail, **values: Any) -> None:
        # Only under our claim: if our lease ran out and another process took the mail,
        # its outcome is the one that counts.
        db.execute(
            update(OutboxMail)
            .where(OutboxMail.id == claimed.id, OutboxMail.claim_token == claimed.claim_token)
            .values(claim_token=None, **values)
        )
        db.commit()

    # -- retention ---------------------------------------------------------------------

    def purge_statement(self, now: datetime) -> Any:
        """Deletes finished mails older than MAIL_RETENTION_DAYS (their bodies are blank)."""
        cutoff = now - timedelta(days=self.settings.mail_retention_days)
        return delete(OutboxMail).where(
            OutboxMail.status != PENDING, OutboxMail.created_at < cutoff
        )


# A sent or given-up mail keeps no code or link.
_BLANK: dict[str, Any] = {"text_body": None, "html_body": None}


def _outgoing(row: OutboxMail) -> OutgoingMail:
    return OutgoingMail(
        to=row.recipient,
        subject=row.subject,
        text=row.text_body or "",
        html=row.html_body or "",
        language=row.locale,
        message_id=f"<{row.id}@rozitech.local>",
    )
