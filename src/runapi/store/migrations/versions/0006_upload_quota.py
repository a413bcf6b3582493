"""upload_quota: an index for the per-account upload quota and rate (files by account and creation time)

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_files_account", "files", ["account_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_files_account", "files")
