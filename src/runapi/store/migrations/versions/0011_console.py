"""The web console: users.password_hash and users.is_operator, console_sessions, console_login_links.

Revision ID: 0011_console
Revises: 0010_usage_log
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_console"
down_revision = "0010_usage_log"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("password_hash", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("is_operator", sa.Boolean(), server_default="0", nullable=False))
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.String(length=40), primary_key=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False, unique=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("membership_id", sa.String(length=40), sa.ForeignKey("memberships.id"), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_console_sessions_expiry", "console_sessions", ["expires_at"], unique=False)
    op.create_table(
        "console_login_links",
        sa.Column("token_hash", sa.String(length=64), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("used_at", sa.Float(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("console_login_links")
    op.drop_index("ix_console_sessions_expiry", table_name="console_sessions")
    op.drop_table("console_sessions")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("is_operator")
        batch.drop_column("password_hash")
