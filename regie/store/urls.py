"""Store URLs: ``sqlite:///path.db`` (or a bare path) and ``postgresql://…``.

>>> store_url("regie.db").render_as_string()
'sqlite:///regie.db'
>>> store_url("postgresql://regie@db.internal/regie").drivername
'postgresql+psycopg'
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from regie.store.errors import StoreError

__all__ = ["display", "is_postgres", "is_sqlite", "store_url"]

_EXPECTED = "expected sqlite:///PATH.db, a file path, or postgresql://USER@HOST[:PORT]/DATABASE"
_POSTGRES = {"postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"}


def store_url(text: str) -> URL:
    """The SQLAlchemy URL for a store given on the command line or in configuration.

    PostgreSQL always goes through psycopg 3, whatever driver the URL names.
    """
    text = text.strip()
    if not text:
        raise StoreError("--store", f"empty; {_EXPECTED}")
    if "://" not in text:
        return _sqlite_file(text, text)
    try:
        url = make_url(text)
    except ArgumentError:
        raise StoreError(_hide(text), f"not a URL; {_EXPECTED}") from None
    if url.drivername in _POSTGRES:
        if not url.database:
            raise StoreError(display(url), "no database name; expected postgresql://USER@HOST/DATABASE")
        return url.set(drivername="postgresql+psycopg")
    if url.drivername in ("sqlite", "sqlite+pysqlite"):
        if not url.database or url.database == ":memory:":
            raise StoreError(text, "an in-memory store keeps nothing; give a file: sqlite:///regie.db")
        return _sqlite_file(url.database, text)
    raise StoreError(display(url), f"unsupported database `{url.drivername}`; {_EXPECTED}")


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def is_postgres(url: URL) -> bool:
    return url.get_backend_name() == "postgresql"


def display(url: URL) -> str:
    """The URL as errors and logs show it: never with its password."""
    return url.render_as_string(hide_password=True)


def _sqlite_file(path: str, given: str) -> URL:
    folder = Path(path).expanduser().parent
    if not folder.is_dir():
        raise StoreError(given, f"no folder `{folder}` to keep the store file in")
    return URL.create("sqlite", database=str(Path(path).expanduser()))


def _hide(text: str) -> str:
    """A URL that did not parse may still hold a password: keep only scheme and host."""
    scheme, _, rest = text.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}"
