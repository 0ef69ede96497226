"""reader-facing web: issues published on the archive by hand

Revision ID: 0004_web
Revises: 0003_schedule

Rate limits are kept in memory by the web process (see letterpress.web.security), so the only
table here is ``published_issues``: issues shown in the online archive without a send run
(``letterpress publish``).  Issues that were sent appear through ``send_runs``.
"""
import sqlalchemy as sa
from alembic import op

revision = "0004_web"
down_revision = '0003_schedule'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "published_issues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("publication", sa.String(length=100), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("issue_path", sa.String(length=1000), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_published_issues")),
        sa.UniqueConstraint("publication", "number", name=op.f("uq_published_issues_publication")),
    )


def downgrade() -> None:
    op.drop_table("published_issues")
