"""An index on `revocation_events.organization_id`: every access token issued reads the
newest cutoff of its organization's `membership_changed` and `licenses_changed` events
(revocations.token_cutoff), so a token issued right after a change in the same second
carries an `iat` at or past that change's cutoff.

Revision ID: 0013_revocation_org_index
Revises: 0012_passkeys
Create Date: 2026-11-30 06:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013_revocation_org_index"
down_revision: str | None = "0012_passkeys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("revocation_events") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_revocation_events_organization_id"), ["organization_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("revocation_events") as batch_op:
        batch_op.drop_index(batch_op.f("ix_revocation_events_organization_id"))
