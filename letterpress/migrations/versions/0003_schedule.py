"""scheduled sends and their occurrences

Revision ID: 0003_schedule
Revises: 0002_delivery
"""
import sqlalchemy as sa
from alembic import op

revision = "0003_schedule"
down_revision = '0002_delivery'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scheduled_sends",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("publication", sa.String(100), nullable=False),
        sa.Column("issue_number", sa.Integer(), nullable=False),
        sa.Column("issue_path", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("list_name", sa.String(200), nullable=False),
        sa.Column("approved_content_hash", sa.String(64), nullable=False),
        sa.Column("approved_source_hash", sa.String(64), nullable=False),
        sa.Column("planned_at", sa.DateTime(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("occurrence_key", sa.String(200), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduled_sends")),
        sa.UniqueConstraint("occurrence_key", name=op.f("uq_scheduled_sends_occurrence_key")),
    )
    op.create_index(op.f("ix_scheduled_sends_publication"), "scheduled_sends", ["publication"])
    op.create_index(op.f("ix_scheduled_sends_planned_at"), "scheduled_sends", ["planned_at"])
    op.create_index(op.f("ix_scheduled_sends_state"), "scheduled_sends", ["state"])

    op.create_table(
        "schedule_occurrences",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("publication", sa.String(100), nullable=False),
        sa.Column("occurrence_key", sa.String(200), nullable=False),
        sa.Column("planned_at", sa.DateTime(), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("issue_path", sa.Text(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_occurrences")),
        sa.UniqueConstraint("occurrence_key", name=op.f("uq_schedule_occurrences_occurrence_key")),
    )
    op.create_index(op.f("ix_schedule_occurrences_publication"), "schedule_occurrences",
                    ["publication"])
    op.create_index(op.f("ix_schedule_occurrences_outcome"), "schedule_occurrences",
                    ["outcome"])

    # APScheduler's job store (apscheduler.jobstores.sqlalchemy) would create this table on
    # first use; creating it here keeps the whole schema under migrations.
    op.create_table(
        "apscheduler_jobs",
        sa.Column("id", sa.Unicode(191), primary_key=True),
        sa.Column("next_run_time", sa.Float(25), nullable=True),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apscheduler_jobs")),
    )
    op.create_index(op.f("ix_apscheduler_jobs_next_run_time"), "apscheduler_jobs",
                    ["next_run_time"])


def downgrade() -> None:
    op.drop_table("apscheduler_jobs")
    op.drop_table("schedule_occurrences")
    op.drop_table("scheduled_sends")
