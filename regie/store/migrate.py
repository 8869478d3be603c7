"""The schema is created and upgraded only by the Alembic migrations, run when a store opens."""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from regie.store.backends import WRITE, Backend

__all__ = ["current_revision", "head", "upgrade"]

_SCRIPTS = Path(__file__).resolve().parent / "migrations"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    return config


@functools.cache
def head() -> str:
    """The newest revision the migrations know."""
    return ScriptDirectory.from_config(_config()).get_current_head() or ""


def upgrade(engine: Engine, backend: Backend) -> None:
    """Bring the schema to the newest revision, in one transaction under a lock.

    A store already at the newest revision costs one query.
    """
    if current_revision(engine) == head():
        return
    config = _config()
    with engine.connect() as conn:
        conn.execution_options(**{WRITE: True})
        with conn.begin():
            backend.lock_migrations(conn)
            config.attributes["connection"] = conn
            command.upgrade(config, "head")


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
