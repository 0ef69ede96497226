"""scheduled sends and their occurrences

Revision ID: 0003_schedule
Revises: 0002_delivery
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0003_schedule"
down_revision = '0002_delivery'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
