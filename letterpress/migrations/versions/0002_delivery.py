"""send runs and the per-recipient ledger

Revision ID: 0002_delivery
Revises: 0001_audience
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0002_delivery"
down_revision = '0001_audience'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
