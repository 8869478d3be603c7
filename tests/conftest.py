"""Fixtures shared by several test modules. Helpers used by one module live in that module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from regie.dsl.types import Schema
from regie.engine.schema import fact_schema
from regie.store.testing import ensure_postgres, postgres_schema, sqlite_file

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def schema() -> Schema:
    """The schema policies are checked against in production: the fact model and the catalogues."""
    return fact_schema()


@pytest.fixture(scope="session")
def quickstart() -> Path:
    """The bundled example (read-only: copy it before changing anything)."""
    return ROOT / "examples" / "quickstart"


@pytest.fixture(scope="session")
def postgres() -> None:
    """The local PostgreSQL answers: started by .ci/run, or here when it is down (once a session)."""
    ensure_postgres()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty violation store on each backend: a SQLite file, and a fresh schema on the local
    PostgreSQL."""
    if request.param == "sqlite":
        with sqlite_file(tmp_path) as url:
            yield url
    else:
        request.getfixturevalue("postgres")
        with postgres_schema() as url:
            yield url
