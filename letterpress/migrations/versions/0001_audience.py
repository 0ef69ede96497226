"""subscribers, lists, subscriptions, consent, events, suppression

Revision ID: 0001_audience
Revises: None
"""
import sqlalchemy as sa
from alembic import op

revision = "0001_audience"
down_revision = None
branch_labels = None
depends_on = None


def _utc():
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "subscribers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("email_key", sa.String(320), nullable=False),
        sa.Column("name", sa.String(200), nullable=False, server_default=""),
        sa.Column("attributes", sa.JSON, nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_subscribers"),
        sa.UniqueConstraint("email_key", name="uq_subscribers_email_key"),
    )
    op.create_table(
        "mailing_lists",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("publication", sa.String(100), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_mailing_lists"),
        sa.UniqueConstraint("name", name="uq_mailing_lists_name"),
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("subscriber_id", sa.Integer, nullable=False),
        sa.Column("list_id", sa.Integer, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("consent_at", _utc(), nullable=False),
        sa.Column("consent_source", sa.String(20), nullable=False),
        sa.Column("consent_text", sa.Text, nullable=False, server_default=""),
        sa.Column("consent_form_id", sa.String(200), nullable=True),
        sa.Column("consent_ip", sa.String(64), nullable=True),
        sa.Column("confirmed_at", _utc(), nullable=True),
        sa.Column("unsubscribed_at", _utc(), nullable=True),
        sa.Column("unsubscribe_channel", sa.String(20), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_subscriptions"),
        sa.ForeignKeyConstraint(["subscriber_id"], ["subscribers.id"], ondelete="CASCADE",
                                name="fk_subscriptions_subscriber_id_subscribers"),
        sa.ForeignKeyConstraint(["list_id"], ["mailing_lists.id"], ondelete="CASCADE",
                                name="fk_subscriptions_list_id_mailing_lists"),
        sa.UniqueConstraint("subscriber_id", "list_id", name="uq_subscriptions_subscriber_list"),
        sa.CheckConstraint(
            "status IN ('pending','active','unsubscribed','bounced','complained')",
            name="ck_subscriptions_status"),
    )
    op.create_index("ix_subscriptions_subscriber_id", "subscriptions", ["subscriber_id"])
    op.create_index("ix_subscriptions_list_status_id", "subscriptions",
                    ["list_id", "status", "id"])
    op.create_table(
        "subscription_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("subscription_id", sa.Integer, nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("old_status", sa.String(20), nullable=True),
        sa.Column("new_status", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("detail", sa.Text, nullable=False, server_default=""),
        sa.Column("data", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_subscription_events"),
        sa.ForeignKeyConstraint(["subscription_id"], ["subscriptions.id"], ondelete="CASCADE",
                                name="fk_subscription_events_subscription_id_subscriptions"),
    )
    op.create_index("ix_subscription_events_subscription_id", "subscription_events",
                    ["subscription_id"])
    op.create_table(
        "suppressions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email_hash", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(100), nullable=False),
        sa.Column("reason", sa.String(20), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_suppressions"),
        sa.UniqueConstraint("email_hash", "scope", name="uq_suppressions_hash_scope"),
    )
    op.create_index("ix_suppressions_email_hash", "suppressions", ["email_hash"])


def downgrade() -> None:
    op.drop_table("suppressions")
    op.drop_table("subscription_events")
    op.drop_table("subscriptions")
    op.drop_table("mailing_lists")
    op.drop_table("subscribers")
