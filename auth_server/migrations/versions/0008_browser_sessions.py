"""browser (SSO) sessions: the cookie's hash and the authentication methods on the row

A browser session of the hosted pages is a row of `sessions` like any API session, so that
logout-all, a password change or reset, a disable and the admin revoke end it through the
same revocation path. `browser_hash` holds the SHA-256 of its cookie's secret; `amr` how
the user proved who they are (RFC 8176 values, space-separated) for every session.

Revision ID: 0008_browser_sessions
Revises: 0005
Create Date: 2026-11-29 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_browser_sessions"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("amr", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("browser_hash", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_column("browser_hash")
        batch_op.drop_column("amr")
