"""Git history on shared storage: content-addressed objects and compare-and-set refs per repository.

Objects live here unless an S3 bucket is configured (then only the refs do). A row never changes
once written (its key is the hash of its content); a ref row moves only by compare-and-set.

Revision ID: 0008
Revises: 0013
"""
from alembic import op

revision = "0008"
down_revision = "0013"
branch_labels = None
depends_on = None

UP = """
CREATE TABLE git_objects (
    repo text NOT NULL,
    sha text NOT NULL,
    type smallint NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (repo, sha)
);

CREATE TABLE git_refs (
    repo text NOT NULL,
    name text NOT NULL,
    target text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repo, name)
);
"""

DOWN = """
DROP TABLE git_refs; DROP TABLE git_objects;
"""


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute(DOWN)
