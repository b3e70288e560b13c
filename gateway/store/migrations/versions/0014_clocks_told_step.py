"""The step of an acknowledgement clock whose desk has been told, so the first desk
is told at once and each escalation's desk once, by whichever process claims it.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("alert_clocks", sa.Column("told_step", sa.Integer))


def downgrade() -> None:
    op.drop_column("alert_clocks", "told_step")
