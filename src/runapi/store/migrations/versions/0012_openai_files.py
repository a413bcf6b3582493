"""OpenAI-style files and uploads: files.purpose, file_uploads, file_upload_parts.

Revision ID: 0012_openai_files
Revises: 0011_console
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_openai_files"
down_revision = "0011_console"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("files") as batch:
        batch.add_column(sa.Column("purpose", sa.String(length=40), nullable=True))
    op.create_table(
        "file_uploads",
        sa.Column("id", sa.String(length=40), primary_key=True),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("api_key_id", sa.String(length=40), nullable=True),
        sa.Column("file_id", sa.String(length=40), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("mime_type", sa.String(length=100), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("received_bytes", sa.BigInteger(), nullable=False),
        sa.Column("part_count", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("part_ids", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_file_uploads_expiry", "file_uploads", ["status", "expires_at"], unique=False)
    op.create_table(
        "file_upload_parts",
        sa.Column("id", sa.String(length=40), primary_key=True),
        sa.Column("upload_id", sa.String(length=40), sa.ForeignKey("file_uploads.id"), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_file_upload_parts_upload", "file_upload_parts", ["upload_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_file_upload_parts_upload", table_name="file_upload_parts")
    op.drop_table("file_upload_parts")
    op.drop_index("ix_file_uploads_expiry", table_name="file_uploads")
    op.drop_table("file_uploads")
    with op.batch_alter_table("files") as batch:
        batch.drop_column("purpose")
