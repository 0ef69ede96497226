"""subscribers, lists, subscriptions, consent, events, suppression

Revision ID: 0001_audience
Revises: None
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0001_audience"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
