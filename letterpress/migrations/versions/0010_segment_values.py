"""segment values: the attributes segments use, copied beside each subscription's list and status

Revision ID: 0010_segment_values
Revises: 0009_reports

``segment_values`` holds one row per (subscription, attribute): the subscription's list and
status with the attribute's name and text value.  Counting a segment of a list is then a
range scan of one index, ``(list_id, status, name, value, subscription_id)``, that reads only
the matching entries, never the subscribers' JSON nor a join per member (see
letterpress.audience.segments).

Triggers keep the table in step whatever writes the source rows (import, forms, admin, raw
SQL): a new subscription copies its subscriber's attributes; a change of status or list is
copied to its rows; a change of attributes rewrites the rows of every subscription of the
person; a deleted subscription takes its rows along (on PostgreSQL a TRUNCATE too).  On PostgreSQL the insert trigger runs
once per statement over its transition table (a bulk import is one set-based insert), the
others once per changed row.

Only the attributes named in ``segment_attributes`` are copied: those the segments use,
registered (and back-filled) the first time a command uses a segment, like the expression
indexes of ``ix_subscribers_attr_<name>`` (letterpress.audience.segments).  An import then
pays only for the columns segments read, not for every column of the file.  The upgrade
registers the attributes that already have such an index.  Values not null are copied, cut to
``VALUE_CHARS`` characters (a btree entry has a size limit; the language refuses longer
values, so a cut value never equals one).
"""
import re

import sqlalchemy as sa
from alembic import op

revision = "0010_segment_values"
down_revision = '0009_reports'
branch_labels = None
depends_on = None

VALUE_CHARS = 501  # letterpress.audience.segments.MAX_VALUE_CHARS + 1

# --------------------------------------------------------------------------- SQLite

# json_each gives numbers and booleans as SQL values: written as text the way PostgreSQL's
# ``->>`` writes them, so a value compares the same on both databases.
_SQLITE_VALUE = (f"substr(CASE a.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' "
                 f"ELSE CAST(a.value AS TEXT) END, 1, {VALUE_CHARS})")
_SQLITE_KEEP = "a.type <> 'null' AND a.key IN (SELECT name FROM segment_attributes)"

SQLITE_TRIGGERS = {
    "tr_segment_values_subscription_added": f"""
        CREATE TRIGGER tr_segment_values_subscription_added AFTER INSERT ON subscriptions
        WHEN EXISTS (SELECT 1 FROM segment_attributes)
        BEGIN
            INSERT INTO segment_values (subscription_id, list_id, status, name, value)
            SELECT NEW.id, NEW.list_id, NEW.status, a.key, {_SQLITE_VALUE}
            FROM subscribers AS s, json_each(s.attributes) AS a
            WHERE s.id = NEW.subscriber_id AND json_type(s.attributes) = 'object'
              AND {_SQLITE_KEEP};
        END""",
    "tr_segment_values_subscription_moved": """
        CREATE TRIGGER tr_segment_values_subscription_moved
        AFTER UPDATE OF status, list_id ON subscriptions
        WHEN NEW.status IS NOT OLD.status OR NEW.list_id IS NOT OLD.list_id
        BEGIN
            UPDATE segment_values SET status = NEW.status, list_id = NEW.list_id
            WHERE subscription_id = NEW.id;
        END""",
    "tr_segment_values_subscription_removed": """
        CREATE TRIGGER tr_segment_values_subscription_removed AFTER DELETE ON subscriptions
        BEGIN
            DELETE FROM segment_values WHERE subscription_id = OLD.id;
        END""",
    "tr_segment_values_attributes_changed": f"""
        CREATE TRIGGER tr_segment_values_attributes_changed
        AFTER UPDATE OF attributes ON subscribers
        WHEN NEW.attributes IS NOT OLD.attributes AND EXISTS (SELECT 1 FROM segment_attributes)
        BEGIN
            DELETE FROM segment_values WHERE subscription_id IN (
                SELECT id FROM subscriptions WHERE subscriber_id = NEW.id);
            INSERT INTO segment_values (subscription_id, list_id, status, name, value)
            SELECT sub.id, sub.list_id, sub.status, a.key, {_SQLITE_VALUE}
            FROM subscriptions AS sub, json_each(NEW.attributes) AS a
            WHERE sub.subscriber_id = NEW.id AND json_type(NEW.attributes) = 'object'
              AND {_SQLITE_KEEP};
        END""",
}

# --------------------------------------------------------------------------- PostgreSQL

_PG_KEEP = "a.value IS NOT NULL AND a.key IN (SELECT name FROM segment_attributes)"
_PG_VALUE = f"left(a.value, {VALUE_CHARS})"

PG_FUNCTIONS = {
    "segment_values_subscriptions_added": f"""
        IF NOT EXISTS (SELECT 1 FROM segment_attributes) THEN
            RETURN NULL;  -- no segment reads attributes yet: nothing to copy
        END IF;
        INSERT INTO segment_values (subscription_id, list_id, status, name, value)
        SELECT n.id, n.list_id, n.status, a.key, {_PG_VALUE}
        FROM added AS n JOIN subscribers AS s ON s.id = n.subscriber_id
        CROSS JOIN LATERAL json_each_text(CASE WHEN json_typeof(s.attributes) = 'object'
                                          THEN s.attributes ELSE '{{}}' END) AS a
        WHERE {_PG_KEEP};
        RETURN NULL;""",
    "segment_values_subscription_moved": """
        UPDATE segment_values SET status = NEW.status, list_id = NEW.list_id
        WHERE subscription_id = NEW.id;
        RETURN NULL;""",
    "segment_values_subscription_removed": """
        DELETE FROM segment_values WHERE subscription_id = OLD.id;
        RETURN NULL;""",
    # DELETE, not TRUNCATE: the statement that fires it may be truncating segment_values too.
    "segment_values_subscriptions_truncated": """
        DELETE FROM segment_values;
        RETURN NULL;""",
    "segment_values_attributes_changed": f"""
        DELETE FROM segment_values WHERE subscription_id IN (
            SELECT id FROM subscriptions WHERE subscriber_id = NEW.id);
        INSERT INTO segment_values (subscription_id, list_id, status, name, value)
        SELECT sub.id, sub.list_id, sub.status, a.key, {_PG_VALUE}
        FROM subscriptions AS sub
        CROSS JOIN LATERAL json_each_text(CASE WHEN json_typeof(NEW.attributes) = 'object'
                                          THEN NEW.attributes ELSE '{{}}' END) AS a
        WHERE sub.subscriber_id = NEW.id AND {_PG_KEEP};
        RETURN NULL;""",
}

PG_TRIGGERS = {
    "tr_segment_values_subscription_added": """
        CREATE TRIGGER tr_segment_values_subscription_added AFTER INSERT ON subscriptions
        REFERENCING NEW TABLE AS added FOR EACH STATEMENT
        EXECUTE FUNCTION segment_values_subscriptions_added()""",
    "tr_segment_values_subscription_moved": """
        CREATE TRIGGER tr_segment_values_subscription_moved
        AFTER UPDATE OF status, list_id ON subscriptions FOR EACH ROW
        WHEN (NEW.status IS DISTINCT FROM OLD.status OR NEW.list_id IS DISTINCT FROM OLD.list_id)
        EXECUTE FUNCTION segment_values_subscription_moved()""",
    "tr_segment_values_subscription_removed": """
        CREATE TRIGGER tr_segment_values_subscription_removed AFTER DELETE ON subscriptions
        FOR EACH ROW EXECUTE FUNCTION segment_values_subscription_removed()""",
    "tr_segment_values_subscriptions_truncated": """
        CREATE TRIGGER tr_segment_values_subscriptions_truncated AFTER TRUNCATE ON subscriptions
        FOR EACH STATEMENT EXECUTE FUNCTION segment_values_subscriptions_truncated()""",
    "tr_segment_values_attributes_changed": """
        CREATE TRIGGER tr_segment_values_attributes_changed
        AFTER UPDATE OF attributes ON subscribers FOR EACH ROW
        WHEN (NEW.attributes::text IS DISTINCT FROM OLD.attributes::text)
        EXECUTE FUNCTION segment_values_attributes_changed()""",
}

PG_TABLES = {"tr_segment_values_attributes_changed": "subscribers"}


def _indexed_attributes(bind) -> list[str]:
    """Attribute names of the existing ``ix_subscribers_attr_*`` expression indexes."""
    if bind.dialect.name == "postgresql":
        rows = bind.exec_driver_sql(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'subscribers' "
            "AND indexname LIKE 'ix_subscribers_attr_%%'")
        pattern = r"->> '([A-Za-z_][A-Za-z0-9_]*)'::text"
    else:
        rows = bind.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'subscribers' "
            "AND name LIKE 'ix_subscribers_attr_%'")
        pattern = r"'\$\.([A-Za-z_][A-Za-z0-9_]*)'"
    return sorted({m.group(1) for (sql,) in rows for m in [re.search(pattern, sql or "")] if m})


def upgrade() -> None:
    op.create_table(
        "segment_attributes",
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_segment_attributes")),
    )
    bind = op.get_bind()
    names = _indexed_attributes(bind)
    if names:
        op.bulk_insert(sa.table("segment_attributes", sa.column("name", sa.String)),
                       [{"name": n} for n in names])
    op.create_table(
        "segment_values",
        # The key's columns first: SQLite stores a WITHOUT ROWID table key first, and its
        # integrity check (3.40, Debian 12's) misreads the columns when the declared order
        # differs — it reported NULLs that are not there, and backups were refused.
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        # The value is part of the key so that checking a test on one subscription reads the
        # key alone (index-only); on SQLite the key is the table itself.
        sa.PrimaryKeyConstraint("subscription_id", "name", "value",
                                name=op.f("pk_segment_values")),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_segment_values_list_status_name_value", "segment_values",
                    ["list_id", "status", "name", "value", "subscription_id"])
    if bind.dialect.name == "postgresql":
        for name, body in PG_FUNCTIONS.items():
            op.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
                       f"BEGIN\n{body}\nEND $$")
        for ddl in PG_TRIGGERS.values():
            op.execute(ddl)
        backfill = f"""
            INSERT INTO segment_values (subscription_id, list_id, status, name, value)
            SELECT sub.id, sub.list_id, sub.status, a.key, {_PG_VALUE}
            FROM subscriptions AS sub JOIN subscribers AS s ON s.id = sub.subscriber_id
            CROSS JOIN LATERAL json_each_text(CASE WHEN json_typeof(s.attributes) = 'object'
                                              THEN s.attributes ELSE '{{}}' END) AS a
            WHERE {_PG_KEEP}"""
    else:
        for ddl in SQLITE_TRIGGERS.values():
            op.execute(ddl)
        backfill = f"""
            INSERT INTO segment_values (subscription_id, list_id, status, name, value)
            SELECT sub.id, sub.list_id, sub.status, a.key, {_SQLITE_VALUE}
            FROM subscriptions AS sub JOIN subscribers AS s ON s.id = sub.subscriber_id,
                 json_each(s.attributes) AS a
            WHERE json_type(s.attributes) = 'object' AND {_SQLITE_KEEP}"""
    op.execute(backfill)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for name in PG_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {PG_TABLES.get(name, 'subscriptions')}")
        for name in PG_FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_index("ix_segment_values_list_status_name_value", table_name="segment_values")
    op.drop_table("segment_values")
    op.drop_table("segment_attributes")
