"""api_keys.limits_set_by / disabled_by (who set a key's limits, who disabled it) and ledger.member_guardrail_id
(a second guardrail in force)

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("limits_set_by", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("disabled_by", sa.String(length=40), nullable=True))
    with op.batch_alter_table("ledger") as batch:
        batch.add_column(sa.Column("member_guardrail_id", sa.String(length=40), nullable=True))
        batch.create_index("ix_ledger_member_guardrail_time", ["member_guardrail_id", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ledger") as batch:
        batch.drop_index("ix_ledger_member_guardrail_time")
        batch.drop_column("member_guardrail_id")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("disabled_by")
        batch.drop_column("limits_set_by")
