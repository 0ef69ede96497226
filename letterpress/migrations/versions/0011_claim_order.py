"""claim order: the ledger index of a run's rows by state also orders them by id

Revision ID: 0011_claim_order
Revises: 0010_segment_values

Senders sharing a run (PostgreSQL) claim "the next queued rows of the run, in id order".
With an index on (run_id, state) only, PostgreSQL walked the primary key from the run's
first row and filtered out every row already sent: 10 ms per batch halfway through a run of
20,000, 100 ms at 200,000.  With id as the index's third column the claim reads the next
rows directly.  (SQLite's index already ended with the rowid; it gets the same definition.)
"""
from alembic import op

revision = "0011_claim_order"
down_revision = "0010_segment_values"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_deliveries_run_state_id", "deliveries", ["run_id", "state", "id"])
    op.drop_index("ix_deliveries_run_state", table_name="deliveries")


def downgrade() -> None:
    op.create_index("ix_deliveries_run_state", "deliveries", ["run_id", "state"])
    op.drop_index("ix_deliveries_run_state_id", table_name="deliveries")
