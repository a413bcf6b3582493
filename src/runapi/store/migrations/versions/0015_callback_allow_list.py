"""accounts.callback_url_allowlist: the hosts / URL prefixes an account's callback URLs must match.

Revision ID: 0015_callback_allow_list
Revises: 0014_cli_listen
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_callback_allow_list"
down_revision = "0014_cli_listen"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("callback_url_allowlist", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("callback_url_allowlist")
