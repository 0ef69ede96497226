"""send lifecycle: CHECK constraints on run and delivery states; who holds a sending row

Revision ID: 0005_send_lifecycle
Revises: 0004_web

The state vocabularies are those of ``letterpress.delivery.lifecycle`` (copied here, as a
migration must not change when the code does).  SQLite cannot add a constraint to a table:
batch mode rebuilds it.  Rows holding a value outside the vocabulary would make the
constraint fail, so the migration refuses with their count rather than guess.
"""
import sqlalchemy as sa
from alembic import op

revision = "0005_send_lifecycle"
down_revision = '0004_web'
branch_labels = None
depends_on = None

RUN_STATES = ("pending", "sending", "paused", "done", "failed")
DELIVERY_STATES = ("queued", "sending", "sent", "deferred", "failed", "skipped", "uncertain")


def _check(states) -> str:
    return "state IN (" + ", ".join(f"'{s}'" for s in states) + ")"


def _refuse_unknown(table: str, states) -> None:
    bind = op.get_bind()
    n = bind.execute(sa.text(f"SELECT count(*) FROM {table} WHERE NOT ({_check(states)})")) \
        .scalar()
    if n:
        raise RuntimeError(f"{n} row(s) of {table} have a state outside {', '.join(states)}; "
                           "fix them before upgrading")


def upgrade() -> None:
    _refuse_unknown("send_runs", RUN_STATES)
    _refuse_unknown("deliveries", DELIVERY_STATES)
    with op.batch_alter_table("send_runs") as batch:
        batch.create_check_constraint("ck_send_runs_state", _check(RUN_STATES))
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(200), nullable=True))
        batch.create_check_constraint("ck_deliveries_state", _check(DELIVERY_STATES))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_constraint("ck_deliveries_state", type_="check")
        batch.drop_column("claimed_by")
    with op.batch_alter_table("send_runs") as batch:
        batch.drop_constraint("ck_send_runs_state", type_="check")
