"""The inbox lists a desk's parties' clocks newest first: an index on (recipient,
started_at) so the list reads only those rows, however many clocks the store
keeps. The clock's status column also names withdrawn and superseded copies.

Revision ID: 0024i
Revises: 0014
"""

from alembic import op

revision = "0024i"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_alert_clocks_recipient_started", "alert_clocks", ["recipient", "started_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_alert_clocks_recipient_started", table_name="alert_clocks")
