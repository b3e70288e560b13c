"""Each audit checkpoint keeps the hashes of the entries it newly covers (its span).

The statement signs their digest, so the recorded hashes are authentic: when an
entry is rewritten and the chain after it re-hashed, comparing the stored hashes
with the span names the first entry changed, without the gateway's key (an
outside verifier of an export can).

Revision ID: 0017
Revises: 0025 (after the branches were joined)
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit_checkpoints", sa.Column("span", sa.LargeBinary))


def downgrade() -> None:
    op.drop_column("audit_checkpoints", "span")
