"""The inbox: which person has read which item (an acknowledgement clock).

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox_reads",
        sa.Column(
            "clock_id",
            sa.String(36),
            sa.ForeignKey("alert_clocks.clock_id"),
            primary_key=True,
        ),
        sa.Column("person", sa.String(160), primary_key=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("inbox_reads")
