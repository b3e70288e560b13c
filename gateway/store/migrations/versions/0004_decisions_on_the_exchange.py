"""Decisions move onto their exchange's row: one JSON list instead of a row per recipient.

Writing ten decision rows an exchange (one per party to the agreement) cost
more than the exchange's other rows together, and every reader wanted an
exchange's decisions all at once. Existing decisions are copied across, in the
order they were decided, before their table goes.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_exchanges = sa.table(
    "exchanges", sa.column("exchange_id", sa.String), sa.column("decisions", sa.JSON)
)
_decisions = sa.table(
    "decisions",
    sa.column("id", sa.Integer),
    sa.column("exchange_id", sa.String),
    sa.column("recipient", sa.String),
    sa.column("effect", sa.String),
    sa.column("record", sa.JSON),
)


def upgrade() -> None:
    op.add_column(
        "exchanges",
        sa.Column("decisions", sa.JSON, nullable=False, server_default=sa.text("'[]'")),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(_decisions.c.exchange_id, _decisions.c.record).order_by(
            _decisions.c.exchange_id, _decisions.c.id
        )
    )
    batch_of: dict[str, list[object]] = {}
    for exchange_id, record in rows:
        batch_of.setdefault(exchange_id, []).append(record)
        if len(batch_of) >= 1000:
            _copy(bind, batch_of)
            batch_of = {}
    _copy(bind, batch_of)
    op.drop_index("ix_decisions_exchange", table_name="decisions")
    op.drop_table("decisions")


def _copy(bind: sa.Connection, records: dict[str, list[object]]) -> None:
    if records:
        bind.execute(
            _exchanges.update()
            .where(_exchanges.c.exchange_id == sa.bindparam("eid"))
            .values(decisions=sa.bindparam("list")),
            [{"eid": e, "list": r} for e, r in records.items()],
        )


def downgrade() -> None:
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "exchange_id", sa.String(36), sa.ForeignKey("exchanges.exchange_id"), nullable=False
        ),
        sa.Column("recipient", sa.String(64), nullable=False),
        sa.Column("effect", sa.String(8), nullable=False),
        sa.Column("record", sa.JSON, nullable=False),
    )
    op.create_index("ix_decisions_exchange", "decisions", ["exchange_id"])
    bind = op.get_bind()
    for exchange_id, records in bind.execute(sa.select(_exchanges)).all():
        if records:
            bind.execute(
                _decisions.insert(),
                [
                    {
                        "exchange_id": exchange_id,
                        "recipient": r["recipient"],
                        "effect": r["effect"],
                        "record": r,
                    }
                    for r in records
                ],
            )
    # SQLite 3.35 and later drop a column in place (no table copy).
    op.drop_column("exchanges", "decisions")
