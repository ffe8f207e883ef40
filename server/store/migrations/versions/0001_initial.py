"""Initial tables: jobs, links, job_events."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("cache_key", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("progress", sa.Float, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("snippet_name", sa.String(256), nullable=False),
        sa.Column("settings", sa.JSON, nullable=False),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("device", sa.String(16), nullable=False),
        sa.Column("torch_version", sa.String(64), nullable=False),
        sa.Column("schema_version", sa.Integer, nullable=True),
        sa.Column("summary", sa.JSON, nullable=True),
        sa.Column("error", sa.JSON, nullable=True),
        sa.Column("document_key", sa.String(256), nullable=True),
        sa.Column("created_at_s", sa.Float, nullable=False),
        sa.Column("finished_at_s", sa.Float, nullable=True),
    )
    op.create_index("ix_jobs_cache_key", "jobs", ["cache_key"])
    op.create_table(
        "links",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("job_id", sa.String(64), sa.ForeignKey("jobs.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("owner_token_sha256", sa.String(64), nullable=False),
        sa.Column("created_at_s", sa.Float, nullable=False),
    )
    op.create_index("ix_links_job_id", "links", ["job_id"])
    op.create_table(
        "job_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String(64), sa.ForeignKey("jobs.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("progress", sa.Float, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("at_s", sa.Float, nullable=False),
    )
    op.create_index("ix_job_events_job_seq", "job_events", ["job_id", "seq"], unique=True)


def downgrade() -> None:
    op.drop_table("job_events")
    op.drop_table("links")
    op.drop_table("jobs")
