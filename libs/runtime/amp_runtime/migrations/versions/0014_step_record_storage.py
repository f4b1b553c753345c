"""What a step writes on every commit, stored for what it is read for.

`agent_runs.output` is written by every step and read back whole only when a step is delivered
again (its record replayed), never searched inside: `json` keeps the text as sent, where `jsonb`
parsed it into its binary form on every insert (both are compressed alike). The outbox's message
bodies are kept a week after they are sent (`outbox.KEEP_SENT_S`), then pruned: they are stored
without compression (`STORAGE EXTERNAL`, rows written from now on), and that retention bounds
what this costs on disk.

One backend's CPU per autocommit insert of 13 KB step records: 410-490 µs into `jsonb`,
300-330 µs into `json`, 180-190 µs into an uncompressed column, 130-170 µs for an empty row.

Revision ID: 0014
Revises: 0008
"""

from alembic import op

revision = "0014"
down_revision = "0008"
branch_labels = None
depends_on = None

UP = """
ALTER TABLE agent_runs ALTER COLUMN output TYPE json USING output::json;
ALTER TABLE outbox ALTER COLUMN body SET STORAGE EXTERNAL;
"""

DOWN = """
ALTER TABLE outbox ALTER COLUMN body SET STORAGE EXTENDED;
ALTER TABLE agent_runs ALTER COLUMN output TYPE jsonb USING output::jsonb;
"""


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute(DOWN)
