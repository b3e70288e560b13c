"""The audit trail's RFC 8785 bytes and seals, and its signed checkpoints (issue 18).

Entries written from now on (``jcs-sha256``) keep the bytes their hash covers
in ``canonical``, so verifying reads and hashes them without serialising
anything, and a seal by the gateway's key in ``seal``. Older entries keep
both null and verify by their own rule.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("canonical", sa.LargeBinary))
    op.add_column("audit_log", sa.Column("seal", sa.String(96)))
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("upto_seq", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("statement", sa.LargeBinary, nullable=False),
        sa.Column("signature", sa.String(100), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("audit_checkpoints")
    op.drop_column("audit_log", "seal")
    op.drop_column("audit_log", "canonical")
