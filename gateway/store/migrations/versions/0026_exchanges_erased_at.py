"""When a received record's contents were erased at the end of the agreement's
retention period (``agreement.retention.exchanges``): the row stays, with its
decisions, so the audit trail's entries about it still name something.

Revision ID: 0026
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("exchanges", sa.Column("erased_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("exchanges", "erased_at")
