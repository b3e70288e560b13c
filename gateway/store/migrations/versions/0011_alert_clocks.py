"""Acknowledgement clocks: a copy that must be acknowledged, its deadline and escalation.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_clocks",
        sa.Column("clock_id", sa.String(36), primary_key=True),
        sa.Column(
            "exchange_id",
            sa.String(36),
            sa.ForeignKey("exchanges.exchange_id"),
            nullable=False,
        ),
        sa.Column("recipient", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("steps", sa.JSON, nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True)),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True)),
        sa.Column("acknowledged_by", sa.String(160)),
        sa.Column("history", sa.JSON, nullable=False),
        sa.UniqueConstraint("exchange_id", "recipient", name="uq_alert_clocks_exchange_recipient"),
    )
    op.create_index("ix_alert_clocks_deadline", "alert_clocks", ["status", "deadline"])


def downgrade() -> None:
    op.drop_index("ix_alert_clocks_deadline", table_name="alert_clocks")
    op.drop_table("alert_clocks")
