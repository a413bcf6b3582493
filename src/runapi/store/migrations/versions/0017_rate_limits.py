"""api_keys, guardrails: rpm_limit, tpm_limit, max_parallel_requests (request rate limits; NULL: unlimited).

Revision ID: 0017_rate_limits
Revises: 0016_retention
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_rate_limits"
down_revision = "0016_retention"
branch_labels = None
depends_on = None

TABLES = ("api_keys", "guardrails")
COLUMNS = ("rpm_limit", "tpm_limit", "max_parallel_requests")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            for column in COLUMNS:
                batch.add_column(sa.Column(column, sa.Integer(), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            for column in reversed(COLUMNS):
                batch.drop_column(column)
