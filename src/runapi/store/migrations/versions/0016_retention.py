"""tasks.output_files, output_bytes, outputs_expired_at and the retention job's indexes (tasks by completion,
usage rows by time, listener events by task).

Revision ID: 0016_retention
Revises: 0015_callback_allow_list
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_retention"
down_revision = "0015_callback_allow_list"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("output_files", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("output_bytes", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("outputs_expired_at", sa.Float(), nullable=True))
    op.create_index("ix_tasks_outputs_due", "tasks", ["outputs_expired_at", "completed_at"], unique=False)
    op.create_index("ix_tasks_completed", "tasks", ["completed_at"], unique=False)
    op.create_index("ix_usage_time", "usage_events", ["created_at"], unique=False)
    op.create_index("ix_cli_listen_events_task", "cli_listen_events", ["task_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_cli_listen_events_task", table_name="cli_listen_events")
    op.drop_index("ix_usage_time", table_name="usage_events")
    op.drop_index("ix_tasks_completed", table_name="tasks")
    op.drop_index("ix_tasks_outputs_due", table_name="tasks")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("outputs_expired_at")
        batch.drop_column("output_bytes")
        batch.drop_column("output_files")
