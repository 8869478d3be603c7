"""Stores for tests: a fresh PostgreSQL schema or SQLite file per test, on the real servers.

For this repository's tests and for the service's: every store test runs against both
backends. PostgreSQL is the server on this machine (``REGIE_TEST_POSTGRES``, default
``postgresql://postgres@127.0.0.1:5432/test``); each test gets its own schema, dropped
afterwards, so parallel runs do not collide.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

__all__ = ["POSTGRES_URL", "ensure_postgres", "postgres_schema", "sqlite_file"]

POSTGRES_URL = os.environ.get("REGIE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def ensure_postgres(url: str = POSTGRES_URL) -> None:
    """Make sure the test server answers: start the local cluster if it is down, else fail saying why.

    Tests must not skip quietly when PostgreSQL is missing: CI has to run them.
    """
    if _reachable(url):
        return
    clusters = Path("/etc/postgresql")
    if shutil.which("pg_ctlcluster") and clusters.is_dir():
        for version in sorted(p.name for p in clusters.iterdir()):
            subprocess.run(
                ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
                check=False,
                capture_output=True,
            )
        for _ in range(50):
            if _reachable(url):
                return
            time.sleep(0.2)
    raise RuntimeError(
        f"PostgreSQL is not reachable at {make_url(url).render_as_string(hide_password=True)} and could "
        "not be started: start it (pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main "
        "start) or point REGIE_TEST_POSTGRES at a server"
    )


@contextmanager
def postgres_schema(url: str = POSTGRES_URL) -> Iterator[str]:
    """A store URL whose tables live in a new schema of their own, dropped on exit."""
    schema = f"regie_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(make_url(url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        # libpq's `options` sets the search path for every connection the store opens.
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def sqlite_file(folder: Path) -> Iterator[str]:
    """A store URL for a new SQLite file in ``folder``."""
    yield f"sqlite:///{folder / f'regie-{uuid.uuid4().hex[:8]}.db'}"


def _reachable(url: str) -> bool:
    engine = create_engine(
        make_url(url).set(drivername="postgresql+psycopg"), connect_args={"connect_timeout": 3}
    )
    try:
        with engine.connect():
            return True
    except OperationalError:
        return False
    finally:
        engine.dispose()
