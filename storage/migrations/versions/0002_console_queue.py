"""The moderator's queue: held comments' text until a decision or the retention period; audit by day.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the types in storage/schema.py: a migration must not change when that file does.
ID = sa.String(256)
UTCDateTime = sa.DateTime(timezone=True)
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "queue",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("comment_id", ID, nullable=False),
        sa.Column("site_id", ID, nullable=False),
        sa.Column("article_id", ID, nullable=True),
        sa.Column("article_title", sa.Text, nullable=False),
        sa.Column("article_body", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("label", sa.String(32), nullable=False),
        sa.Column("flagged", sa.String(32), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("decided_action", sa.String(32), nullable=False),
        sa.Column("shadow", sa.Boolean, nullable=False),
        sa.Column("scores", sa.JSON, nullable=False),
        sa.Column("reasons", sa.JSON, nullable=False),
        sa.Column("phrases", sa.JSON, nullable=False),
        sa.Column("model_version", ID, nullable=False),
        sa.Column("policy_version", ID, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_queue_site_id", "queue", ["site_id", "id"])
    op.create_index("ix_queue_created_at", "queue", ["created_at"])
    op.create_index("ix_queue_comment_id", "queue", ["comment_id"])
    op.create_index("ix_audit_created_at", "audit", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_audit_created_at", table_name="audit")
    op.drop_index("ix_queue_comment_id", table_name="queue")
    op.drop_index("ix_queue_created_at", table_name="queue")
    op.drop_index("ix_queue_site_id", table_name="queue")
    op.drop_table("queue")
