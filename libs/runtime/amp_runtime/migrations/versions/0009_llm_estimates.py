"""The pre-run estimate of each version's model spend, kept beside what it really spent.

Revision ID: 0009
Revises: 0007
"""

from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None

UP = """
CREATE TABLE llm_estimates (
    decision_set_id uuid PRIMARY KEY,
    project_id uuid NOT NULL,
    input_tokens integer NOT NULL DEFAULT 0,
    output_tokens integer NOT NULL DEFAULT 0,
    usd numeric(14, 6) NOT NULL DEFAULT 0,
    calls jsonb NOT NULL DEFAULT '[]'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX llm_estimates_project ON llm_estimates (project_id, created_at);
"""

DOWN = """
DROP TABLE llm_estimates;
"""


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute(DOWN)
