"""cli_listen_sessions, cli_listen_events: `runapi listen` (local callback listener) sessions and their queue.

Revision ID: 0014_cli_listen
Revises: 0013_task_deletions
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_cli_listen"
down_revision = "0013_task_deletions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cli_listen_sessions",
        sa.Column("token_hash", sa.String(length=64), primary_key=True),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("last_seen_at", sa.Float(), nullable=False),
    )
    op.create_index(
        "ix_cli_listen_sessions_account", "cli_listen_sessions", ["account_id", "last_seen_at"], unique=False
    )
    op.create_table(
        "cli_listen_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("callback_id", sa.String(length=36), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("acked_at", sa.Float(), nullable=True),
    )
    op.create_index("ix_cli_listen_events_account", "cli_listen_events", ["account_id", "acked_at", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_cli_listen_events_account", table_name="cli_listen_events")
    op.drop_table("cli_listen_events")
    op.drop_index("ix_cli_listen_sessions_account", table_name="cli_listen_sessions")
    op.drop_table("cli_listen_sessions")
