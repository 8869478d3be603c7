"""Alembic migrations of the violation store."""
