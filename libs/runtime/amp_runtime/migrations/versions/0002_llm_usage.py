"""LLM usage and budgets: tokens and cost of every model call, and a spending limit per project.

Revision ID: 0002
Revises: 0001
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UP = """
CREATE TABLE llm_usage (
    id bigserial PRIMARY KEY,
    project_id uuid NOT NULL,
    decision_set_id uuid,
    node text NOT NULL,
    provider text NOT NULL,
    model text,
    input_tokens integer NOT NULL DEFAULT 0,
    output_tokens integer NOT NULL DEFAULT 0,
    cache_read_tokens integer NOT NULL DEFAULT 0,
    cache_write_tokens integer NOT NULL DEFAULT 0,
    usd numeric(14, 6) NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX llm_usage_project ON llm_usage (project_id, created_at);

CREATE TABLE llm_budgets (
    project_id uuid PRIMARY KEY,
    limit_usd numeric(14, 6) NOT NULL CHECK (limit_usd >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
"""

DOWN = """
DROP TABLE llm_budgets; DROP TABLE llm_usage;
"""


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute(DOWN)
