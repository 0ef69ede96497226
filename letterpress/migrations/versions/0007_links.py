"""links bound to their reader: a random link key per subscriber, ids never reused

Revision ID: 0007_links
Revises: 0006_bounces

* ``subscribers.link_key``: the random key every token of that person is bound to.  Rows that
  exist before this migration get ``""`` (the legacy marker): the links already mailed to
  them keep working, under the conditions of ``letterpress.audience.links``.
* SQLite reuses the highest deleted row id unless a table is AUTOINCREMENT, which can only be
  declared when the table is created.  ``subscribers``, ``mailing_lists``, ``subscriptions``
  and ``subscription_events`` are rebuilt: the old tables are renamed (SQLite rewrites the
  foreign keys of the other tables to follow them), new ones created and filled, and the old
  ones dropped children first, so no ``ON DELETE CASCADE`` fires on the copied rows.
  PostgreSQL's sequences never hand out an id twice: only the column is added there.
"""
import sqlalchemy as sa
from alembic import op

revision = "0007_links"
down_revision = '0006_bounces'
branch_labels = None
depends_on = None


def _utc():
    return sa.DateTime(timezone=True)


def _tables(metadata: sa.MetaData) -> list[sa.Table]:
    auto = {"sqlite_autoincrement": True}
    subscribers = sa.Table(
        "subscribers", metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("email_key", sa.String(320), nullable=False),
        sa.Column("name", sa.String(200), nullable=False, server_default=""),
        sa.Column("attributes", sa.JSON, nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.Column("link_key", sa.String(32), nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("id", name="pk_subscribers"),
        sa.UniqueConstraint("email_key", name="uq_subscribers_email_key"),
        **auto,
    )
    mailing_lists = sa.Table(
        "mailing_lists", metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("publication", sa.String(100), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_mailing_lists"),
        sa.UniqueConstraint("name", name="uq_mailing_lists_name"),
        **auto,
    )
    subscriptions = sa.Table(
        "subscriptions", metadata,
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
        **auto,
    )
    events = sa.Table(
        "subscription_events", metadata,
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
        **auto,
    )
    return [subscribers, mailing_lists, subscriptions, events]


INDEXES = [
    ("ix_subscriptions_subscriber_id", "subscriptions", ["subscriber_id"]),
    ("ix_subscriptions_list_status_id", "subscriptions", ["list_id", "status", "id"]),
    ("ix_subscription_events_subscription_id", "subscription_events", ["subscription_id"]),
]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        op.add_column("subscribers", sa.Column("link_key", sa.String(32), nullable=False,
                                               server_default=""))
        return
    tables = _tables(sa.MetaData())
    for table in tables:
        op.execute(f'ALTER TABLE "{table.name}" RENAME TO "{table.name}_old"')
    for table in tables:
        table.create(bind)
    for table in tables:
        columns = ", ".join(f'"{c.name}"' for c in table.columns if c.name != "link_key")
        op.execute(f'INSERT INTO "{table.name}" ({columns}) '
                   f'SELECT {columns} FROM "{table.name}_old"')
    for table in reversed(tables):  # children first: no cascade reaches a copied row
        op.execute(f'DROP TABLE "{table.name}_old"')
    for name, table_name, columns in INDEXES:
        op.create_index(name, table_name, columns)


def downgrade() -> None:
    # AUTOINCREMENT stays (harmless); only the key goes.
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("link_key")
