"""Dead letters indexed by their outbox row.

Retention keeps the outbox rows a dead letter refers to, and asks that of each
row in a page of expired ones: without the index, each question reads the
whole dead-letter table.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_dead_letters_outbox_id", "dead_letters", ["outbox_id"])


def downgrade() -> None:
    op.drop_index("ix_dead_letters_outbox_id", table_name="dead_letters")
