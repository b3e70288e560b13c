"""Joins the branches that issues 17, 18 and 20 grew side by side from 0014 (the
audit trail's checkpoints and roles, the auditor's indexes, the custodian's
linking index, the inbox's index): one head again, so the next migration has
one parent. No schema change.

Revision ID: 0025
Revises: 0016, 0018q, 0020e, 0024i
"""

revision = "0025"
down_revision = ("0016", "0018q", "0020e", "0024i")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
