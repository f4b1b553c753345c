"""Initial schema: projects, decision sets, events, agent runs, approvals, answers, costs, idempotency, outbox.

Every table carries project_id from the start: tenancy and authorization are not a retrofit.

Revision ID: 0001
Revises:
"""
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UP = """
CREATE TABLE projects (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    description text NOT NULL DEFAULT '',
    ds_count integer NOT NULL DEFAULT 0,
    policies jsonb NOT NULL DEFAULT '[]',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX projects_created ON projects (created_at DESC);

CREATE TABLE decision_sets (
    id uuid PRIMARY KEY,
    project_id uuid NOT NULL REFERENCES projects(id),
    version integer NOT NULL,
    parent_id uuid REFERENCES decision_sets(id),
    status text NOT NULL,
    stage text NOT NULL,
    lock_version integer NOT NULL DEFAULT 0,
    requirements text NOT NULL DEFAULT '',
    input_constraints jsonb NOT NULL DEFAULT '{}',
    constraints jsonb, coverage jsonb, assumptions jsonb, plan jsonb, risks jsonb, cost jsonb,
    policy jsonb, gate jsonb, approval jsonb, reports jsonb, diff jsonb,
    artifact_key text, tree_key text, git_commit text, prompt_pack_hash text,
    gate_expires_at timestamptz, gate_reminded boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, version)
);
CREATE INDEX decision_sets_parent ON decision_sets (parent_id);
CREATE INDEX decision_sets_gate_due ON decision_sets (gate_expires_at) WHERE status IN ('waiting_approval', 'expiring');

CREATE TABLE events (
    id bigserial PRIMARY KEY,
    project_id uuid NOT NULL,
    decision_set_id uuid NOT NULL,
    run_id text NOT NULL,
    node_name text NOT NULL,
    type text NOT NULL,
    step_key text NOT NULL,
    seq integer NOT NULL,
    checkpoint_id text,
    data jsonb NOT NULL,
    ts timestamptz NOT NULL DEFAULT now(),
    UNIQUE (decision_set_id, node_name, type, step_key, seq)
);
CREATE INDEX events_ds ON events (decision_set_id, id);

CREATE TABLE agent_runs (
    idem_key text PRIMARY KEY,
    project_id uuid NOT NULL,
    decision_set_id uuid NOT NULL,
    service text NOT NULL,
    node text NOT NULL,
    ok boolean NOT NULL,
    output jsonb NOT NULL,
    duration_ms double precision NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agent_runs_ds ON agent_runs (decision_set_id);

CREATE TABLE approvals (
    id uuid PRIMARY KEY,
    project_id uuid NOT NULL,
    decision_set_id uuid NOT NULL UNIQUE REFERENCES decision_sets(id),
    status text NOT NULL,
    comment text NOT NULL DEFAULT '',
    decided_by text NOT NULL DEFAULT 'user',
    waivers jsonb NOT NULL DEFAULT '[]',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE answers (
    id uuid PRIMARY KEY,
    project_id uuid NOT NULL,
    decision_set_id uuid NOT NULL REFERENCES decision_sets(id),
    interrupt_id text NOT NULL,
    answers jsonb NOT NULL,
    text text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (decision_set_id, interrupt_id)
);

CREATE TABLE cost_estimates (
    id bigserial PRIMARY KEY,
    project_id uuid NOT NULL,
    decision_set_id uuid NOT NULL UNIQUE,
    monthly_usd numeric(14, 2) NOT NULL,
    estimate jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cost_estimates_project ON cost_estimates (project_id, created_at);

CREATE TABLE idempotency_keys (
    key text NOT NULL,
    route text NOT NULL,
    request_hash text NOT NULL,
    status_code integer NOT NULL,
    response jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (key, route)
);

CREATE TABLE outbox (
    id bigserial PRIMARY KEY,
    project_id uuid NOT NULL,
    subject text NOT NULL,
    msg_id text NOT NULL,
    body bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz
);
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;
"""

DOWN = """
DROP TABLE outbox; DROP TABLE idempotency_keys; DROP TABLE cost_estimates; DROP TABLE answers;
DROP TABLE approvals; DROP TABLE agent_runs; DROP TABLE events; DROP TABLE decision_sets; DROP TABLE projects;
"""


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute(DOWN)
