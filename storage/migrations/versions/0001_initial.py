"""Initial schema: articles, feedback, audit, fingerprints, health.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the types in storage/schema.py: a migration must not change when that file does.
ID = sa.String(256)
UTCDateTime = sa.DateTime(timezone=True)
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "articles",
        sa.Column("id", ID, primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "feedback",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("comment_id", ID, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("article_id", ID, nullable=True),
        sa.Column("article_title", sa.Text, nullable=False),
        sa.Column("article_body", sa.Text, nullable=False),
        sa.Column("label", sa.String(32), nullable=False),
        sa.Column("moderator_id", ID, nullable=False),
        sa.Column("site_id", ID, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_feedback_comment_id", "feedback", ["comment_id"])
    op.create_table(
        "audit",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("comment_id", ID, nullable=False),
        sa.Column("site_id", ID, nullable=True),
        sa.Column("model_version", ID, nullable=False),
        sa.Column("scores", sa.JSON, nullable=False),
        sa.Column("label", sa.String(32), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("decided_action", sa.String(32), nullable=False),
        sa.Column("policy_version", ID, nullable=False),
        sa.Column("shadow", sa.Boolean, nullable=False),
        sa.Column("reasons", sa.JSON, nullable=False),
        sa.Column("text", sa.Text, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_audit_comment_id", "audit", ["comment_id"])
    op.create_table(
        "fingerprints",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("site_id", ID, nullable=False),
        sa.Column("fingerprint", sa.BigInteger, nullable=False),
        sa.Column("article_id", ID, nullable=False),
        sa.Column("comment_id", ID, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_fingerprints_site_created", "fingerprints", ["site_id", "created_at"])
    op.create_table(
        "health",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("checked_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("health")
    op.drop_index("ix_fingerprints_site_created", table_name="fingerprints")
    op.drop_table("fingerprints")
    op.drop_index("ix_audit_comment_id", table_name="audit")
    op.drop_table("audit")
    op.drop_index("ix_feedback_comment_id", table_name="feedback")
    op.drop_table("feedback")
    op.drop_table("articles")
