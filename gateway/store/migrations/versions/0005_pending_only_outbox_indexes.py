"""The outbox's queue indexes hold pending rows only, in claim order.

The old ``(status, priority, id)`` index could not give a claim its order
(priority descending, then id ascending), so each claim sorted every pending
row, and checked each for an earlier row of its subject, before taking its
batch: after an outage's backlog, every claim read the whole backlog. Both
indexes also kept every row ever sent.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.drop_index("ix_outbox_pending", table_name="outbox")
    op.drop_index("ix_outbox_ordering", table_name="outbox")
    op.create_index(
        "ix_outbox_queue",
        "outbox",
        [sa.text("priority DESC"), "id"],
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    )
    op.create_index(
        "ix_outbox_subject_queue",
        "outbox",
        ["destination", "message_key", "id"],
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_subject_queue", table_name="outbox")
    op.drop_index("ix_outbox_queue", table_name="outbox")
    op.create_index("ix_outbox_ordering", "outbox", ["destination", "message_key", "status", "id"])
    op.create_index("ix_outbox_pending", "outbox", ["status", "priority", "id"])
