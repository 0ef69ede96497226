"""send runs and the per-recipient ledger

Revision ID: 0002_delivery
Revises: 0001_audience
"""
import sqlalchemy as sa
from alembic import op

revision = "0002_delivery"
down_revision = '0001_audience'
branch_labels = None
depends_on = None


def _utc():
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "send_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("publication", sa.String(100), nullable=False),
        sa.Column("issue_number", sa.Integer, nullable=False),
        sa.Column("issue_path", sa.Text, nullable=False),
        sa.Column("issue_date", sa.Date, nullable=True),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("list_name", sa.String(200), nullable=False),
        sa.Column("is_test", sa.Boolean, nullable=False),
        sa.Column("key", sa.String(200), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("snapshot_at", _utc(), nullable=True),
        sa.Column("started_at", _utc(), nullable=True),
        sa.Column("finished_at", _utc(), nullable=True),
        sa.Column("lease_owner", sa.String(200), nullable=True),
        sa.Column("lease_until", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_send_runs"),
        sa.UniqueConstraint("key", name="uq_send_runs_key"),
    )
    op.create_index("ix_send_runs_publication", "send_runs", ["publication"])
    op.create_index("ix_send_runs_state", "send_runs", ["state"])
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("subscription_id", sa.Integer, nullable=True),
        sa.Column("subscriber_id", sa.Integer, nullable=True),
        sa.Column("list_id", sa.Integer, nullable=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("message_id", sa.String(200), nullable=True),
        sa.Column("code", sa.Integer, nullable=True),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("bounced", sa.Boolean, nullable=False),
        sa.Column("first_attempt_at", _utc(), nullable=True),
        sa.Column("last_attempt_at", _utc(), nullable=True),
        sa.Column("next_attempt_at", _utc(), nullable=True),
        sa.Column("sent_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
        sa.ForeignKeyConstraint(["run_id"], ["send_runs.id"], ondelete="CASCADE",
                                name="fk_deliveries_run_id_send_runs"),
        sa.UniqueConstraint("run_id", "subscription_id", name="uq_deliveries_run_subscription"),
        sa.UniqueConstraint("run_id", "email", name="uq_deliveries_run_email"),
    )
    op.create_index("ix_deliveries_run_state", "deliveries", ["run_id", "state"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_run_state", table_name="deliveries")
    op.drop_table("deliveries")
    op.drop_index("ix_send_runs_state", table_name="send_runs")
    op.drop_index("ix_send_runs_publication", table_name="send_runs")
    op.drop_table("send_runs")
