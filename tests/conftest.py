"""Fixtures shared by several test modules. Helpers used by one module live in that module."""

from __future__ import annotations

from pathlib import Path

import pytest

from regie.dsl.types import Schema
from regie.engine.schema import fact_schema

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def schema() -> Schema:
    """The schema policies are checked against in production: the fact model and the catalogues."""
    return fact_schema()


@pytest.fixture(scope="session")
def quickstart() -> Path:
    """The bundled example (read-only: copy it before changing anything)."""
    return ROOT / "examples" / "quickstart"
