"""open_reservations: metered (LLM) reservations awaiting settlement

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "open_reservations",
        sa.Column("request_id", sa.String(40), primary_key=True),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("api_key_id", sa.String(40)),
        sa.Column("cents", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_open_reservations_time", "open_reservations", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_open_reservations_time", "open_reservations")
    op.drop_table("open_reservations")
