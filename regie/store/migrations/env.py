"""Alembic's entry point: migrations run on the connection the store hands over.

The store opens the transaction and takes its lock before calling Alembic (see
``regie/store/migrate.py``), so concurrent first starts do not race to create tables.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from regie.store.schema import metadata


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()


# Alembic sets `context.config` before running this file; tools that merely import it (doctest
# collection) find nothing to run.
_config = getattr(context, "config", None)
if _config is not None:
    connection = _config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("the store's migrations run through regie.store, which passes a connection")
    _run(connection)
