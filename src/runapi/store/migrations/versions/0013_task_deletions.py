"""task_deletions: tasks their client deleted through OpenAI's video API (DELETE /v1/videos/{id}).

Revision ID: 0013_task_deletions
Revises: 0012_openai_files
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_task_deletions"
down_revision = "0012_openai_files"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "task_deletions",
        sa.Column("task_id", sa.String(length=36), sa.ForeignKey("tasks.id"), primary_key=True),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("deleted_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("task_deletions")
