"""Alembic environment: runs on the connection the application hands over (config.attributes["connection"]),
or on RUNAPI_DATABASE_URL's sync equivalent when invoked from the alembic command line."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from runapi.store.schema import metadata

config = context.config


def run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    from runapi.settings import Settings

    url = Settings().resolved_database_url.replace("+aiosqlite", "").replace("+asyncpg", "+psycopg")
    with create_engine(url).connect() as conn:
        run(conn)
        conn.commit()
