"""spend_counters: per-window spend of each limited scope, checked and charged in one step; the counters a
reservation charged, on tasks and open_reservations

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "spend_counters",
        sa.Column("scope", sa.String(200), primary_key=True),
        sa.Column("window_start", sa.Float(), primary_key=True),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("version", sa.String(100), nullable=False),
        sa.Column("spent_cents", sa.BigInteger(), nullable=False),
    )
    op.add_column("tasks", sa.Column("spend_counters", sa.JSON()))
    op.add_column("open_reservations", sa.Column("counters", sa.JSON()))


def downgrade() -> None:
    with op.batch_alter_table("open_reservations") as batch:
        batch.drop_column("counters")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("spend_counters")
    op.drop_table("spend_counters")
