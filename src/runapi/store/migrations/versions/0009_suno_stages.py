"""tasks.stage (the progress stage a processing task last reported) and callback_deliveries.seq: a task may
have several callbacks (one per stage, then the final one), unique per (task_id, seq) instead of per task.

Revision ID: 0009_suno_stages
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_suno_stages"
down_revision = "0008"
branch_labels = None
depends_on = None

# 0001 created UNIQUE(task_id) without a name: SQLite's batch mode finds it through this convention, PostgreSQL
# gave it its default name.
_NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _old_unique_name() -> str:
    if op.get_bind().dialect.name == "postgresql":
        return "callback_deliveries_task_id_key"
    return "uq_callback_deliveries_task_id"


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("stage", sa.String(length=40), nullable=True))
    with op.batch_alter_table("callback_deliveries", naming_convention=_NAMING) as batch:
        batch.drop_constraint(_old_unique_name(), type_="unique")
        batch.add_column(sa.Column("seq", sa.Integer(), server_default="0", nullable=False))
        batch.create_unique_constraint("uq_callbacks_task_seq", ["task_id", "seq"])


def downgrade() -> None:
    with op.batch_alter_table("callback_deliveries", naming_convention=_NAMING) as batch:
        batch.drop_constraint("uq_callbacks_task_seq", type_="unique")
        batch.drop_column("seq")
        batch.create_unique_constraint(_old_unique_name(), ["task_id"])
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("stage")
