"""bounces and complaints: returned-message records, soft-bounce scores, async outcomes

Revision ID: 0006_bounces
Revises: 0005_send_lifecycle

``bounce_records`` keeps one row per outcome read from a DSN, an ARF report, an auto-reply
or a relay webhook (unique per message fingerprint and position: processing is idempotent);
``bounce_scores`` the soft-bounce score of each subscription; the delivery ledger gains the
asynchronous outcome of each delivery and an index on ``message_id`` (the fallback match when
no VERP return path was used).
"""
import sqlalchemy as sa
from alembic import op

revision = "0006_bounces"
down_revision = '0005_send_lifecycle'
branch_labels = None
depends_on = None


def _utc():
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "bounce_records",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("source_ref", sa.String(500), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("diagnostic", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("message_id", sa.String(500), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("delivery_id", sa.Integer, nullable=True),
        sa.Column("run_id", sa.Integer, nullable=True),
        sa.Column("subscription_id", sa.Integer, nullable=True),
        sa.Column("subscriber_id", sa.Integer, nullable=True),
        sa.Column("received_at", _utc(), nullable=True),
        sa.Column("processed_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_bounce_records"),
        sa.UniqueConstraint("fingerprint", "position", name="uq_bounce_records_fingerprint"),
    )
    op.create_index("ix_bounce_records_kind", "bounce_records", ["kind"])
    op.create_index("ix_bounce_records_delivery_id", "bounce_records", ["delivery_id"])
    op.create_index("ix_bounce_records_subscriber_id", "bounce_records", ["subscriber_id"])
    op.create_index("ix_bounce_records_run_kind", "bounce_records", ["run_id", "kind"])
    op.create_table(
        "bounce_scores",
        sa.Column("subscription_id", sa.Integer, autoincrement=False, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("warnings", sa.Integer, nullable=False),
        sa.Column("last_bounce_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("subscription_id", name="pk_bounce_scores"),
    )
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("async_outcome", sa.String(20), nullable=True))
        batch.add_column(sa.Column("async_status", sa.String(20), nullable=True))
        batch.add_column(sa.Column("async_detail", sa.Text, nullable=True))
        batch.add_column(sa.Column("async_at", _utc(), nullable=True))
    op.create_index("ix_deliveries_message_id", "deliveries", ["message_id"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_message_id", table_name="deliveries")
    with op.batch_alter_table("deliveries") as batch:
        for column in ("async_at", "async_detail", "async_status", "async_outcome"):
            batch.drop_column(column)
    op.drop_table("bounce_scores")
    for name in ("run_kind", "subscriber_id", "delivery_id", "kind"):
        op.drop_index(f"ix_bounce_records_{name}", table_name="bounce_records")
    op.drop_table("bounce_records")
