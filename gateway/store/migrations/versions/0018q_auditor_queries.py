"""The auditor's queries: indexes on the audit trail, and who each exchange is about.

``audit_subjects`` maps a subject's audit pseudonym to the exchanges whose
collection entry names it, so a subject access search reads an index instead
of every entry's details; ``gateway.audit.query`` fills it from the trail up to
the entry ``audit_subjects_head`` records. The audit trail's indexes serve
searches by time and by operation.

Revision ID: 0018q
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0018q"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_log_recorded_at", "audit_log", ["recorded_at"])
    op.create_index("ix_audit_log_action_seq", "audit_log", ["action", "seq"])
    op.create_table(
        "audit_subjects",
        sa.Column("pseudonym", sa.String(40), primary_key=True),
        sa.Column("exchange_id", sa.String(36), primary_key=True),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "audit_subjects_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
    )
    op.execute("INSERT INTO audit_subjects_head (id, seq) VALUES (1, 0)")


def downgrade() -> None:
    op.drop_table("audit_subjects_head")
    op.drop_table("audit_subjects")
    op.drop_index("ix_audit_log_action_seq", table_name="audit_log")
    op.drop_index("ix_audit_log_recorded_at", table_name="audit_log")
