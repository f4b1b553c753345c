"""Alembic environment: the URL comes from the config the runner builds, never from a file."""

from alembic import context
from sqlalchemy import create_engine, pool

url = context.config.get_main_option("sqlalchemy.url")
engine = create_engine(url, poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=None, version_table="amp_alembic_version")
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
