"""The store's tables, as SQLAlchemy Core sees them.

The migrations (``migrations/versions``) create and change these tables; this module
describes their current shape for queries. A test checks that the two agree.

- ``violations``: one row per identity (policy, resource, item), with its latest data;
- ``violation_requirements``: the requirement ids of each violation, for filtering;
- ``changes``: the change log and every violation's history, one row per change, with a
  monotonic id that feeds read with "changes after id N";
- ``waivers``: the exceptions granted through the store;
- ``records``, ``record_inputs``, ``chain_head``: the hash-chained decision records.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

__all__ = [
    "UTCDateTime",
    "chain_head",
    "changes",
    "metadata",
    "record_inputs",
    "records",
    "violation_requirements",
    "violations",
    "waivers",
]


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on both backends.

    Stored without a zone (SQLite has none), always in UTC.
    """

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the store keeps aware datetimes only")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC)


metadata = MetaData()

violations = Table(
    "violations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # sha256 of (policy, resource, item): a unique constraint over a nullable item would
    # let duplicates through (NULLs are distinct), a digest of all three cannot.
    Column("key", String(64), nullable=False),
    Column("policy", Text, nullable=False),
    Column("resource", Text, nullable=False),
    Column("item", Text, nullable=True),
    Column("title", Text, nullable=False),
    Column("titles", Text, nullable=False),
    Column("requirements", Text, nullable=False),
    Column("citation", Text, nullable=False),
    Column("basis", Text, nullable=True),
    Column("severity", String(16), nullable=False),
    Column("enforcement", String(16), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("message", Text, nullable=False),
    Column("reason", Text, nullable=True),
    Column("evidence", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("service", Text, nullable=True),
    Column("address", Text, nullable=True),
    Column("waiver", Text, nullable=True),
    Column("status", String(16), nullable=False),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("last_seen", UTCDateTime, nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),
    Column("record_id", Integer, nullable=True),
    UniqueConstraint("key", name="uq_violations_key"),
    Index("ix_violations_status", "status"),
    Index("ix_violations_policy", "policy"),
    Index("ix_violations_source", "source"),
    Index("ix_violations_service", "service"),
    Index("ix_violations_changed_at", "changed_at"),
)

violation_requirements = Table(
    "violation_requirements",
    metadata,
    Column("violation_id", Integer, ForeignKey("violations.id"), primary_key=True),
    Column("requirement", Text, primary_key=True),
    Index("ix_violation_requirements_requirement", "requirement"),
)

waivers = Table(
    "waivers",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("policy", Text, nullable=False),
    Column("resource", Text, nullable=False),
    Column("service", Text, nullable=True),
    Column("reason", Text, nullable=False),
    Column("approved_by", Text, nullable=False),
    Column("expires", Date, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_by", Text, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
)

changes = Table(
    "changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    # opened, resolved, waived, message (a violation); waiver_created, waiver_revoked
    Column("kind", String(32), nullable=False),
    Column("violation_id", Integer, ForeignKey("violations.id"), nullable=True),
    Column("waiver_id", String(128), nullable=True),
    Column("record_id", Integer, nullable=True),
    Column("status", String(16), nullable=True),
    Column("previous", String(16), nullable=True),
    Column("message", Text, nullable=True),
    Index("ix_changes_violation_id", "violation_id"),
)

record_inputs = Table(
    "record_inputs",
    metadata,
    Column("hash", String(64), primary_key=True),
    Column("body", Text, nullable=False),
)

records = Table(
    "records",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("kind", String(32), nullable=False),
    # Text, not a datetime: the hash covers this exact string, which no driver may reformat.
    Column("at", String(40), nullable=False),
    Column("policy_set_hash", String(64), nullable=False),
    Column("input_hash", String(64), ForeignKey("record_inputs.hash"), nullable=False),
    Column("decision", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("hash", name="uq_records_hash"),
)

# One row (id 1). Every writer locks it first: writes are serialised, so change ids are
# committed in order (a reader at "after N" never skips a late commit) and each record
# chains onto the one before it. It also remembers the last record, so a removed tail shows.
chain_head = Table(
    "chain_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("record_id", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)
