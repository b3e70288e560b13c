"""The data custodian's linking index: keyed hashes of person identifiers seen together.

Revision ID: 0020e
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0020e"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "linking_sightings",
        sa.Column("exchange_id", sa.String(36), primary_key=True),
        sa.Column("subject_ref", sa.String(32), primary_key=True),
        sa.Column("id_hash", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("source_partner", sa.String(64), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("excluded", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_linking_sightings_id_hash", "linking_sightings", ["id_hash"])
    op.create_table(
        "linking_identities",
        sa.Column("id_hash", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("person", sa.String(32), nullable=False),
    )
    op.create_index("ix_linking_identities_person", "linking_identities", ["person"])
    op.create_table(
        "linking_indexed",
        sa.Column("exchange_id", sa.String(36), primary_key=True),
    )
    op.create_table(
        "linking_reviews",
        sa.Column("review_id", sa.String(36), primary_key=True),
        sa.Column("exchange_id", sa.String(36), nullable=False),
        sa.Column("subject_ref", sa.String(32), nullable=False),
        sa.Column("operation", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("reviewed_by", sa.String(160), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_linking_reviews_exchange_id", "linking_reviews", ["exchange_id"])


def downgrade() -> None:
    op.drop_table("linking_reviews")
    op.drop_table("linking_indexed")
    op.drop_table("linking_identities")
    op.drop_table("linking_sightings")
