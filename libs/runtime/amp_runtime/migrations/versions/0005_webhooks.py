"""Webhooks: subscriptions per project, one delivery per (subscription, event), and every attempt.

Revision ID: 0005
Revises: 0002
"""
from alembic import op

revision = "0005"
down_revision = "0002"
branch_labels = None
depends_on = None

UP = """
CREATE TABLE webhook_subscriptions (
    id uuid PRIMARY KEY,
    project_id uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    url text NOT NULL,
    events text[] NOT NULL,
    description text NOT NULL DEFAULT '',
    enabled boolean NOT NULL DEFAULT true,
    disabled_reason text,
    secret text NOT NULL,
    previous_secret text,
    previous_secret_expires_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_subscriptions_project ON webhook_subscriptions (project_id) WHERE enabled;

CREATE TABLE webhook_deliveries (
    id uuid PRIMARY KEY,
    subscription_id uuid NOT NULL REFERENCES webhook_subscriptions(id) ON DELETE CASCADE,
    project_id uuid NOT NULL,
    message_id text NOT NULL,
    event_type text NOT NULL,
    decision_set_id uuid,
    payload text NOT NULL,
    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sending', 'delivered', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    chain_attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    last_status_code integer,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    UNIQUE (subscription_id, message_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state IN ('pending', 'sending');
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (subscription_id, created_at DESC);

CREATE TABLE webhook_attempts (
    id bigserial PRIMARY KEY,
    delivery_id uuid NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    n integer NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    status_code integer,
    latency_ms double precision,
    error text,
    response text,
    UNIQUE (delivery_id, n)
);
"""

DOWN = """
DROP TABLE webhook_attempts; DROP TABLE webhook_deliveries; DROP TABLE webhook_subscriptions;
"""


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute(DOWN)
