"""Exactly once under faults: idempotency keys as the IETF draft has them, an outbox every service
relays, a gapless event number per decision set, and dead letters an operator can list and replay.

Revision ID: 0007
Revises: 0006
"""
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

UP = """
ALTER TABLE idempotency_keys ADD COLUMN caller text NOT NULL DEFAULT '';
ALTER TABLE idempotency_keys ADD COLUMN headers jsonb NOT NULL DEFAULT '{}';
ALTER TABLE idempotency_keys ADD COLUMN expires_at timestamptz NOT NULL DEFAULT now() + interval '24 hours';
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD PRIMARY KEY (caller, route, key);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

ALTER TABLE outbox ADD COLUMN decision_set_id uuid;
ALTER TABLE outbox ADD COLUMN attempts integer NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE outbox ADD COLUMN last_error text;
DROP INDEX outbox_unsent;
CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE sent_at IS NULL;
CREATE INDEX outbox_sent ON outbox (sent_at) WHERE sent_at IS NOT NULL;
CREATE INDEX outbox_ds ON outbox (decision_set_id, id);

ALTER TABLE decision_sets ADD COLUMN event_count bigint NOT NULL DEFAULT 0;
ALTER TABLE decision_sets ADD COLUMN redrives integer NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN number bigint;
UPDATE events e SET number = n.number FROM (
    SELECT id, row_number() OVER (PARTITION BY decision_set_id ORDER BY id) AS number FROM events) n
WHERE e.id = n.id;
UPDATE decision_sets d SET event_count = c.n FROM (
    SELECT decision_set_id, count(*) AS n FROM events GROUP BY decision_set_id) c WHERE d.id = c.decision_set_id;
ALTER TABLE events ALTER COLUMN number SET NOT NULL;
CREATE UNIQUE INDEX events_ds_number ON events (decision_set_id, number);
CREATE INDEX decision_sets_running ON decision_sets (updated_at)
    WHERE status IN ('intake', 'answering', 'planning', 'deciding', 'generating', 'resuming');

CREATE TABLE dead_letters (
    id bigserial PRIMARY KEY,
    service text NOT NULL,
    subject text NOT NULL,
    node text NOT NULL,
    code text NOT NULL,
    reason text NOT NULL,
    body bytea NOT NULL,
    digest text NOT NULL,
    project_id uuid,
    decision_set_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    replayed_at timestamptz,
    replays integer NOT NULL DEFAULT 0,
    UNIQUE (service, subject, digest)
);
CREATE INDEX dead_letters_recent ON dead_letters (created_at DESC);
"""

DOWN = """
DROP TABLE dead_letters;
DROP INDEX decision_sets_running; DROP INDEX events_ds_number;
ALTER TABLE events DROP COLUMN number;
ALTER TABLE decision_sets DROP COLUMN redrives; ALTER TABLE decision_sets DROP COLUMN event_count;
DROP INDEX outbox_ds; DROP INDEX outbox_sent; DROP INDEX outbox_due;
ALTER TABLE outbox DROP COLUMN last_error; ALTER TABLE outbox DROP COLUMN next_attempt_at;
ALTER TABLE outbox DROP COLUMN attempts; ALTER TABLE outbox DROP COLUMN decision_set_id;
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;
DROP INDEX idempotency_keys_expiry;
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
DELETE FROM idempotency_keys a USING idempotency_keys b
    WHERE a.key = b.key AND a.route = b.route AND a.caller > b.caller;
ALTER TABLE idempotency_keys ADD PRIMARY KEY (key, route);
ALTER TABLE idempotency_keys DROP COLUMN expires_at; ALTER TABLE idempotency_keys DROP COLUMN headers;
ALTER TABLE idempotency_keys DROP COLUMN caller;
"""


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute(DOWN)
