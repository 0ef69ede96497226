"""reader-facing web: archive publications, rate limits

Revision ID: 0004_web
Revises: 0003_schedule
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0004_web"
down_revision = '0003_schedule'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
