"""Identity and tenancy: project members with roles, API keys (hashes only), who submitted a version.

Revision ID: 0006
Revises: 0005
"""
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UP = """
ALTER TABLE projects ADD COLUMN owner_id text;
ALTER TABLE projects ADD COLUMN four_eyes boolean NOT NULL DEFAULT false;

CREATE TABLE project_members (
    project_id uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    user_id text NOT NULL,
    role text NOT NULL CHECK (role IN ('owner', 'architect', 'reviewer', 'finops', 'viewer')),
    added_by text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX project_members_user ON project_members (user_id, project_id);

CREATE TABLE api_keys (
    id uuid PRIMARY KEY,
    project_id uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name text NOT NULL,
    role text NOT NULL CHECK (role IN ('owner', 'architect', 'reviewer', 'finops', 'viewer')),
    key_hash text NOT NULL UNIQUE,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    revoked_at timestamptz,
    last_used_at timestamptz
);
CREATE INDEX api_keys_project ON api_keys (project_id);

ALTER TABLE decision_sets ADD COLUMN submitted_by text;
ALTER TABLE events ADD COLUMN user_id text;
"""

DOWN = """
ALTER TABLE events DROP COLUMN user_id;
ALTER TABLE decision_sets DROP COLUMN submitted_by;
DROP TABLE api_keys;
DROP TABLE project_members;
ALTER TABLE projects DROP COLUMN four_eyes;
ALTER TABLE projects DROP COLUMN owner_id;
"""


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute(DOWN)
