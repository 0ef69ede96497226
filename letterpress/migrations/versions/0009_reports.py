"""reports: aggregate click and open counts, admin accounts and their audit log

Revision ID: 0009_reports
Revises: 0008_listhealth

No table here holds a reader identifier: clicks and opens are counted per link (or issue)
and per day only.
"""
import sqlalchemy as sa
from alembic import op

revision = "0009_reports"
down_revision = '0008_listhealth'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "issue_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("publication", sa.String(length=100), nullable=False),
        sa.Column("issue_number", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issue_links")),
        sa.UniqueConstraint("publication", "issue_number", "link_id",
                            name="uq_issue_links_issue_link"),
    )
    op.create_table(
        "link_clicks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("publication", sa.String(length=100), nullable=False),
        sa.Column("issue_number", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("clicks", sa.Integer(), nullable=False),
        sa.Column("scanner", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_clicks")),
        sa.UniqueConstraint("publication", "issue_number", "link_id", "day",
                            name="uq_link_clicks_link_day"),
    )
    op.create_index("ix_link_clicks_issue", "link_clicks", ["publication", "issue_number"])
    op.create_table(
        "open_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("publication", sa.String(length=100), nullable=False),
        sa.Column("issue_number", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("opens", sa.Integer(), nullable=False),
        sa.Column("scanner", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open_counts")),
        sa.UniqueConstraint("publication", "issue_number", "day",
                            name="uq_open_counts_issue_day"),
    )
    op.create_table(
        "admin_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_accounts")),
        sa.UniqueConstraint("username", name=op.f("uq_admin_accounts_username")),
    )
    op.create_table(
        "admin_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=50), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_audit")),
    )
    op.create_index("ix_admin_audit_at", "admin_audit", ["at"])


def downgrade() -> None:
    op.drop_index("ix_admin_audit_at", table_name="admin_audit")
    op.drop_table("admin_audit")
    op.drop_table("admin_accounts")
    op.drop_table("open_counts")
    op.drop_index("ix_link_clicks_issue", table_name="link_clicks")
    op.drop_table("link_clicks")
    op.drop_table("issue_links")
