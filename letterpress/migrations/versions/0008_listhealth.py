"""segments on send runs and scheduled sends; double opt-in reminders; consent archive

Revision ID: 0008_listhealth
Revises: 0007_links

* ``send_runs.segment_name`` / ``segment`` and the same on ``scheduled_sends``: the part of the
  list a run goes to (the segment's name, if it has one, and its expression).
* ``subscriptions.reminder_sent_at``: when the one double opt-in reminder went out.
* index ``(subscriber_id, list_id, status)`` on ``subscriptions`` (replaces the one on
  ``subscriber_id``): index-only look-ups when counting a segment.
* ``consent_archive``: the consent proof of pending subscriptions removed unconfirmed, kept
  with the address hashed (the only mails they got were the confirmation and its reminder).
"""
import sqlalchemy as sa
from alembic import op

revision = "0008_listhealth"
down_revision = '0007_links'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("send_runs", "scheduled_sends"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("segment_name", sa.String(length=100), nullable=True))
            batch.add_column(sa.Column("segment", sa.Text(), nullable=True))
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("reminder_sent_at", sa.DateTime(timezone=True),
                                   nullable=True))
    # A segment count looks up each matching subscriber's subscription to the list: with the
    # status in the index that is an index-only lookup.  It replaces the index on
    # subscriber_id alone, which the unique (subscriber_id, list_id) already served.
    op.create_index("ix_subscriptions_subscriber_list_status", "subscriptions",
                    ["subscriber_id", "list_id", "status"])
    op.drop_index("ix_subscriptions_subscriber_id", table_name="subscriptions")
    op.create_table(
        "consent_archive",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email_hash", sa.String(length=64), nullable=False),
        sa.Column("list_name", sa.String(length=100), nullable=False),
        sa.Column("consent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consent_source", sa.String(length=20), nullable=False),
        sa.Column("consent_text", sa.Text(), nullable=False),
        sa.Column("consent_form_id", sa.String(length=200), nullable=True),
        sa.Column("consent_ip", sa.String(length=64), nullable=True),
        sa.Column("reminder_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_archive")),
    )
    op.create_index(op.f("ix_consent_archive_email_hash"), "consent_archive", ["email_hash"])


def downgrade() -> None:
    op.drop_index(op.f("ix_consent_archive_email_hash"), table_name="consent_archive")
    op.drop_table("consent_archive")
    op.create_index("ix_subscriptions_subscriber_id", "subscriptions", ["subscriber_id"])
    op.drop_index("ix_subscriptions_subscriber_list_status", table_name="subscriptions")
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("reminder_sent_at")
    for table in ("scheduled_sends", "send_runs"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("segment")
            batch.drop_column("segment_name")
