"""Corrections, withdrawals and the unrouted queue.

An exchange may name the one it corrects (``corrects``) and be marked withdrawn
(``withdrawn_at``); a record a flow would have routed by a place it does not give
waits in ``unrouted`` until a coordinator routes it by hand.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("exchanges") as batch:
        batch.add_column(sa.Column("corrects", sa.String(36), nullable=True))
        batch.add_column(sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_exchanges_corrects", "exchanges", ["corrects"])
    op.create_table(
        "unrouted",
        sa.Column(
            "exchange_id",
            sa.String(36),
            sa.ForeignKey("exchanges.exchange_id"),
            primary_key=True,
        ),
        sa.Column("recipients", sa.JSON, nullable=False),
        sa.Column("flow", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("routed_by", sa.String(160)),
        sa.Column("routed_to", sa.String(64)),
        sa.Column("routed_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_unrouted_open", "unrouted", ["status", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_unrouted_open", table_name="unrouted")
    op.drop_table("unrouted")
    op.drop_index("ix_exchanges_corrects", table_name="exchanges")
    with op.batch_alter_table("exchanges") as batch:
        batch.drop_column("withdrawn_at")
        batch.drop_column("corrects")
