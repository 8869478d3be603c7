"""Reading the store: violations with filters and cursor pages, one with its history,
the change log after an id, and open counts per day."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.engine import Connection

from regie.store.errors import StoreError
from regie.store.hashing import canonical, loads
from regie.store.models import Change, DayCount, Page, StoredViolation, ViolationFilter
from regie.store.schema import changes, violation_requirements, violations

__all__ = ["changes_after", "get_violation", "last_change_id", "list_violations", "open_counts"]

MAX_PAGE = 1000


def list_violations(conn: Connection, where: ViolationFilter, cursor: str | None, limit: int) -> Page:
    """Newest first. The cursor is the last id seen: ids never change and new violations get
    higher ones, so a page boundary never moves while others write."""
    if not 1 <= limit <= MAX_PAGE:
        raise StoreError("limit", f"expected 1 to {MAX_PAGE}, got {limit}")
    query = select(violations).order_by(violations.c.id.desc()).limit(limit + 1)
    for column in ("policy", "severity", "enforcement", "source", "service", "status"):
        value = getattr(where, column)
        if value is not None:
            query = query.where(violations.c[column] == value)
    if where.requirement is not None:
        query = query.where(
            exists().where(
                violation_requirements.c.violation_id == violations.c.id,
                violation_requirements.c.requirement == where.requirement,
            )
        )
    if where.since is not None:
        query = query.where(violations.c.changed_at >= where.since)
    if cursor is not None:
        query = query.where(violations.c.id < _decode_cursor(cursor))
    rows = list(conn.execute(query))
    items = tuple(stored_violation(row) for row in rows[:limit])
    more = len(rows) > limit
    return Page(items, _encode_cursor(items[-1].id) if more and items else None)


def get_violation(conn: Connection, violation_id: int) -> StoredViolation | None:
    row = conn.execute(select(violations).where(violations.c.id == violation_id)).one_or_none()
    if row is None:
        return None
    history = conn.execute(
        select(changes).where(changes.c.violation_id == violation_id).order_by(changes.c.id)
    )
    return stored_violation(row, tuple(_change(c) for c in history))


def changes_after(conn: Connection, after_id: int, limit: int) -> list[Change]:
    """The change log after ``after_id``, oldest first, each with its violation as it is now."""
    if not 1 <= limit <= MAX_PAGE:
        raise StoreError("limit", f"expected 1 to {MAX_PAGE}, got {limit}")
    rows = list(
        conn.execute(select(changes).where(changes.c.id > after_id).order_by(changes.c.id).limit(limit))
    )
    ids = sorted({r.violation_id for r in rows if r.violation_id is not None})
    current = {
        row.id: stored_violation(row)
        for row in conn.execute(select(violations).where(violations.c.id.in_(ids)))
    }
    return [_change(r, current.get(r.violation_id)) for r in rows]


def last_change_id(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(changes.c.id), 0))).scalar_one())


def open_counts(conn: Connection, days: int, today: dt.date) -> list[DayCount]:
    """Violations open and waived at the end of each of the last ``days`` days (UTC), from the history."""
    if not 1 <= days <= 3660:
        raise StoreError("days", f"expected 1 to 3660, got {days}")
    first = today - dt.timedelta(days=days - 1)
    status: dict[int, str] = {}
    counts = {"open": 0, "waived": 0, "resolved": 0}
    out: list[DayCount] = []
    day = first
    query = (
        select(changes.c.at, changes.c.violation_id, changes.c.status)
        .where(changes.c.kind.in_(("opened", "resolved", "waived")))
        .order_by(changes.c.at, changes.c.id)
    )
    with conn.execution_options(yield_per=5000).execute(query) as rows:
        for row in rows:
            while day <= today and row.at.date() > day:
                out.append(DayCount(day, counts["open"], counts["waived"]))
                day += dt.timedelta(days=1)
            if day > today:
                break
            before = status.get(row.violation_id)
            if before is not None:
                counts[before] -= 1
            status[row.violation_id] = row.status
            counts[row.status] += 1
    while day <= today:
        out.append(DayCount(day, counts["open"], counts["waived"]))
        day += dt.timedelta(days=1)
    return out


def stored_violation(row: Any, history: Sequence[Change] = ()) -> StoredViolation:
    return StoredViolation(
        id=row.id,
        key=row.key,
        policy=row.policy,
        title=row.title,
        titles=loads(row.titles),
        requirements=tuple(loads(row.requirements)),
        citation=row.citation,
        basis=row.basis,
        severity=row.severity,
        enforcement=row.enforcement,
        outcome=row.outcome,
        resource=row.resource,
        item=row.item,
        message=row.message,
        reason=row.reason,
        evidence=loads(row.evidence),
        source=row.source,
        service=row.service,
        address=row.address,
        waiver=None if row.waiver is None else loads(row.waiver),
        status=row.status,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        changed_at=row.changed_at,
        record_id=row.record_id,
        history=tuple(history),
    )


def _change(row: Any, violation: StoredViolation | None = None) -> Change:
    return Change(
        id=row.id,
        at=row.at,
        kind=row.kind,
        violation_id=row.violation_id,
        waiver_id=row.waiver_id,
        record_id=row.record_id,
        status=row.status,
        previous=row.previous,
        message=row.message,
        violation=violation,
    )


def _encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(canonical({"v": 1, "before": last_id})).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        data = loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        data = None
    if not isinstance(data, dict) or data.get("v") != 1 or not isinstance(data.get("before"), int):
        raise StoreError(
            "cursor", "not a cursor this store gave out (take `next_cursor` of the previous page)"
        )
    before: int = data["before"]
    return before
