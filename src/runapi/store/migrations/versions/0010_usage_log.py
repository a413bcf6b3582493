"""usage_events: the usage log, one row per billed request (an LLM call or a task)

Revision ID: 0010_usage_log
Revises: 0009_suno_stages
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_usage_log"
down_revision = "0009_suno_stages"
branch_labels = None
depends_on = None

TOKENS = ("input_tokens", "output_tokens", "cached_tokens", "cache_write_tokens", "reasoning_tokens")


def upgrade() -> None:
    op.create_table(
        "usage_events",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("api_key_id", sa.String(40)),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("ref", sa.String(40), nullable=False),
        sa.Column("request_id", sa.String(128)),
        sa.Column("model", sa.String(100)),
        sa.Column("family", sa.String(60)),
        sa.Column("action", sa.String(60)),
        sa.Column("provider", sa.String(60)),
        sa.Column("status", sa.String(20), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in TOKENS),
        sa.Column("unit", sa.String(60)),
        sa.Column("units", sa.Float()),
        sa.Column("cost_micro_cents", sa.BigInteger(), nullable=False),
        sa.Column("charged_cents", sa.BigInteger(), nullable=False),
        sa.Column("latency_ms", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_usage_account_time", "usage_events", ["account_id", "created_at"])
    op.create_index("ix_usage_key_time", "usage_events", ["api_key_id", "created_at"])
    op.create_index("ix_usage_account_model_time", "usage_events", ["account_id", "model", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_usage_account_model_time", "usage_events")
    op.drop_index("ix_usage_key_time", "usage_events")
    op.drop_index("ix_usage_account_time", "usage_events")
    op.drop_table("usage_events")
