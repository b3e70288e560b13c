"""Seed the audit chain's head row, so the first appends have a row to lock.

Without it, two first writers on PostgreSQL both found no head, both wrote
entry 1, and one failed on the primary key.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade() -> None:
    head = sa.table(
        "audit_head",
        sa.column("id", sa.Integer),
        sa.column("seq", sa.BigInteger),
        sa.column("hash", sa.String),
    )
    bind = op.get_bind()
    if bind.execute(sa.select(sa.func.count()).select_from(head)).scalar_one() == 0:
        op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS}])


def downgrade() -> None:
    pass
