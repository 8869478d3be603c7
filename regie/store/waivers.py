"""Waivers granted through the store: created and revoked with who and when.

They are the engine's waivers (:class:`regie.engine.waivers.Waiver`), validated and
matched by the same code as waiver files, so both behave the same. A waiver takes
effect at once: creating one marks the open violations it covers as waived, revoking
one reopens the violations it alone covered; the next scan confirms either.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from regie.engine.violations import Violation
from regie.engine.waivers import Waiver, WaiverError, waivers_from_records
from regie.store.errors import StoreError
from regie.store.hashing import canonical, loads
from regie.store.models import StoredWaiver
from regie.store.schema import changes, violations, waivers

__all__ = ["create_waiver", "get_waiver", "list_waivers", "revoke_waiver"]


def list_waivers(conn: Connection, *, include_revoked: bool) -> list[StoredWaiver]:
    query = select(waivers).order_by(waivers.c.created_at, waivers.c.id)
    if not include_revoked:
        query = query.where(waivers.c.revoked_at.is_(None))
    return [_stored(row) for row in conn.execute(query)]


def get_waiver(conn: Connection, waiver_id: str) -> StoredWaiver | None:
    row = conn.execute(select(waivers).where(waivers.c.id == waiver_id)).one_or_none()
    return None if row is None else _stored(row)


def create_waiver(
    conn: Connection,
    *,
    policy: str,
    resource: str,
    reason: str,
    approved_by: str,
    expires: dt.date | str,
    created_by: str,
    service: str | None,
    waiver_id: str | None,
    at: dt.datetime,
) -> StoredWaiver:
    """Validate as a waiver file entry is validated, store, and waive what it covers now."""
    if not created_by or not created_by.strip():
        raise StoreError("waiver.created_by", "a waiver needs who created it")
    if waiver_id is None:
        n = conn.execute(select(func.count()).select_from(waivers)).scalar_one() + 1
        while get_waiver(conn, f"SW-{n}") is not None:
            n += 1
        waiver_id = f"SW-{n}"
    record: dict[str, Any] = {
        "id": waiver_id,
        "policy": policy,
        "resource": resource,
        "service": service,
        "reason": reason,
        "approved_by": approved_by,
        "expires": expires.isoformat() if isinstance(expires, dt.date) else expires,
    }
    try:
        (waiver,) = waivers_from_records([record], "waiver")
    except WaiverError as err:
        raise StoreError(err.where.replace("waiver: waivers[0]", "waiver"), err.message) from None
    if get_waiver(conn, waiver.id) is not None:
        raise StoreError("waiver.id", f"a waiver `{waiver.id}` already exists")
    stored = StoredWaiver(
        id=waiver.id,
        policy=waiver.policy,
        resource=waiver.resource,
        service=waiver.service,
        reason=waiver.reason,
        approved_by=waiver.approved_by,
        expires=waiver.expires,
        created_by=created_by,
        created_at=at,
    )
    conn.execute(waivers.insert().values(**{c.name: getattr(stored, c.name) for c in waivers.c}))
    conn.execute(changes.insert().values(at=at, kind="waiver_created", waiver_id=waiver.id))
    if not waiver.expired(at.date()):
        for row in conn.execute(select(violations).where(violations.c.status == "open")).all():
            if waiver.matches(_violation(row)):
                _set_status(conn, row, "waived", _ref(waiver), waiver.id, at)
    return stored


def revoke_waiver(conn: Connection, waiver_id: str, *, revoked_by: str, at: dt.datetime) -> StoredWaiver:
    """Revoke; the violations it waived are waived by another store waiver, or open again."""
    if not revoked_by or not revoked_by.strip():
        raise StoreError("waiver.revoked_by", "revoking a waiver needs who revokes it")
    current = get_waiver(conn, waiver_id)
    if current is None:
        raise StoreError(f"waiver {waiver_id}", "no such waiver")
    if current.revoked_at is not None:
        raise StoreError(
            f"waiver {waiver_id}",
            f"already revoked by {current.revoked_by} at {current.revoked_at:%Y-%m-%d %H:%M}",
        )
    conn.execute(
        waivers.update().where(waivers.c.id == waiver_id).values(revoked_by=revoked_by, revoked_at=at)
    )
    conn.execute(changes.insert().values(at=at, kind="waiver_revoked", waiver_id=waiver_id))
    others = [
        w.waiver() for w in list_waivers(conn, include_revoked=False) if not w.waiver().expired(at.date())
    ]
    for row in conn.execute(select(violations).where(violations.c.status == "waived")).all():
        if row.waiver is None or loads(row.waiver).get("id") != waiver_id:
            continue
        v = _violation(row)
        other = next((w for w in others if w.matches(v)), None)
        if other is None:
            _set_status(conn, row, "open", None, waiver_id, at)
        else:
            conn.execute(violations.update().where(violations.c.id == row.id).values(waiver=_ref(other)))
    revoked = get_waiver(conn, waiver_id)
    assert revoked is not None
    return revoked


def _set_status(
    conn: Connection, row: Any, status: str, waiver: str | None, waiver_id: str, at: dt.datetime
) -> None:
    conn.execute(
        violations.update()
        .where(violations.c.id == row.id)
        .values(status=status, waiver=waiver, changed_at=at)
    )
    conn.execute(
        changes.insert().values(
            at=at,
            kind="waived" if status == "waived" else "opened",
            violation_id=row.id,
            waiver_id=waiver_id,
            status=status,
            previous=row.status,
            message=row.message,
        )
    )


def _violation(row: Any) -> Violation:
    """Enough of a violation for :meth:`Waiver.matches`, which reads policy, resource, item, service."""
    return Violation(
        row.policy, row.title, (), row.citation, row.severity, row.enforcement, row.outcome,
        row.resource, row.item, row.message, {}, service=row.service,
    )  # fmt: skip


def _ref(waiver: Waiver) -> str:
    return canonical(
        {
            "id": waiver.id,
            "reason": waiver.reason,
            "approved_by": waiver.approved_by,
            "expires": waiver.expires.isoformat(),
        }
    ).decode()


def _stored(row: Any) -> StoredWaiver:
    return StoredWaiver(
        id=row.id,
        policy=row.policy,
        resource=row.resource,
        service=row.service,
        reason=row.reason,
        approved_by=row.approved_by,
        expires=row.expires,
        created_by=row.created_by,
        created_at=row.created_at,
        revoked_by=row.revoked_by,
        revoked_at=row.revoked_at,
    )
