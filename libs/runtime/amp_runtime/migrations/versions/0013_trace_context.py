"""Trace context: the trace each event was recorded in, and the trace a decision set lives in.

`events.trace_id` is what the timeline and the SSE stream show a user to hand an operator;
`decision_sets.traceparent` lets a later command on the same version (answers, approval,
resume) continue that version's trace. Both are nullable: rows written before stay valid.

Revision ID: 0013
Revises: 0009
"""
from alembic import op

revision = "0013"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE events ADD COLUMN trace_id text")
    op.execute("ALTER TABLE decision_sets ADD COLUMN traceparent text")


def downgrade() -> None:
    op.execute("ALTER TABLE decision_sets DROP COLUMN traceparent")
    op.execute("ALTER TABLE events DROP COLUMN trace_id")
