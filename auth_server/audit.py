"""The audit log: one row per security event, with who, from where, and the outcome."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from auth_server import metrics, request_context
from auth_server.clock import Clock
from auth_server.errors import AuthError
from auth_server.models import AuditEvent
from auth_server.sessions import ClientInfo

# Detail keys that could carry a secret are dropped, whatever a caller passes.
_SECRET_WORDS = ("password", "token", "code", "secret", "hash")


def _safe_details(details: dict[str, Any] | None) -> dict[str, Any] | None:
    if not details:
        return None
    # Belt and braces: the log must never hold a password, token or code.
    return {
        key: value
        for key, value in details.items()
        if not any(word in key.lower() for word in _SECRET_WORDS)
    }


class AuditLog:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def add(
        self,
        db: Session,
        event: str,
        *,
        outcome: str = "success",
        client: ClientInfo | None = None,
        user_id: uuid.UUID | None = None,
        email: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Adds the event to the session; it is written by the caller's next commit."""
        client = client or ClientInfo(user_agent=None, ip_address=None)
        # Every flow audits through here: its request line names the user, and the domain
        # counters (logins by outcome, lockouts, reuse) move in this one place.
        request_context.note_user(user_id)
        metrics.count_audit_event(event, outcome)
        db.add(
            AuditEvent(
                id=uuid.uuid4(),
                created_at=self.clock.now(),
                event=event,
                outcome=outcome,
                user_id=user_id,
                email=email[:254] if email else None,
                ip_address=client.ip_address,
                user_agent=(client.user_agent or "")[:300] or None,
                details=_safe_details(details),
                request_id=request_context.current_request_id(),
            )
        )

    def record(self, db: Session, event: str, **fields: Any) -> None:
        """Adds and commits the event on its own."""
        self.add(db, event, **fields)
        db.commit()


def read_events(
    db: Session,
    *,
    user_id: uuid.UUID | None = None,
    email: str | None = None,
    event: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
) -> list[AuditEvent]:
    """Events matching every given filter, oldest first (the last `limit` of them)."""
    query = select(AuditEvent)
    if user_id is not None:
        query = query.where(AuditEvent.user_id == user_id)
    if email is not None:
        query = query.where(AuditEvent.email == email)
    if event is not None:
        query = query.where(AuditEvent.event == event)
    if since is not None:
        query = query.where(AuditEvent.created_at >= since)
    if until is not None:
        query = query.where(AuditEvent.created_at < until)
    newest = db.scalars(query.order_by(AuditEvent.created_at.desc()).limit(limit)).all()
    return list(reversed(newest))


@contextmanager
def failures_audited(
    audit: AuditLog,
    db: Session,
    event: str,
    *,
    client: ClientInfo,
    email: str | None = None,
    user_id: uuid.UUID | None = None,
) -> Iterator[None]:
    """Records a failed `event` (with the error's code) when the block raises an AuthError."""
    try:
        yield
    except AuthError as exc:
        db.rollback()
        audit.record(
            db,
            event,
            outcome="failure",
            client=client,
            email=email,
            user_id=user_id,
            details={"reason": exc.code},
        )
        raise
