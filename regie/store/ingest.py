"""Ingesting a scan: open what was found, keep what is still there, resolve what is gone.

For the scanned sources only: a violation of a source this scan did not cover is left
alone. Everything happens in one transaction under the store's write lock, so a scan
is applied whole or not at all, and two scans never interleave.

Ingesting the same scan twice changes no status and adds no history; it moves
``last_seen`` (the violation was seen again) and appends a decision record (the scan
happened), whose input is stored once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.engine import Connection

from regie.engine.violations import Violation
from regie.store.backends import Backend, chunks
from regie.store.hashing import canonical, sha256
from regie.store.models import IngestResult, Scan, Status
from regie.store.records import append_record
from regie.store.schema import changes, violation_requirements, violations

__all__ = ["ingest_scan", "violation_key"]


def violation_key(policy: str, resource: str, item: str | None) -> str:
    """The stored identity of a violation: a digest of (policy, resource, item).

    >>> violation_key("p", "r", None) == violation_key("p", "r", None) != violation_key("p", "r", "")
    True
    """
    return sha256(canonical([policy, resource, item]))


def ingest_scan(conn: Connection, backend: Backend, scan: Scan, at: dt.datetime) -> IngestResult:
    """Apply ``scan`` in the caller's transaction, which holds the write lock."""
    seen: dict[str, Violation] = {}
    for v in scan.violations:
        seen[violation_key(*v.key())] = v
    existing = {row.key: row for row in _rows_by_key(conn, list(seen))}
    scanned = sorted({*scan.sources, scan.scope})
    gone = [
        row
        for chunk in chunks(scanned)
        for row in conn.execute(
            select(violations.c.id, violations.c.key, violations.c.status, violations.c.policy).where(
                violations.c.source.in_(chunk), violations.c.status != "resolved"
            )
        )
        if row.key not in seen and (scan.policies is None or row.policy in scan.policies)
    ]
    record = append_record(
        conn,
        backend,
        kind="scan",
        at=at,
        policy_set_hash=scan.policy_set_hash,
        input=scan.input,
        decision=scan.decision,
    )
    plan = _Plan(at, record.id)
    for key, v in seen.items():
        plan.add(key, v, existing.get(key), scan.scope)
    for row in gone:
        plan.changes.append(_change(at, "resolved", row.id, record.id, "resolved", row.status, None))
    _write(conn, backend, plan, [row.id for row in gone], at)
    return IngestResult(record.id, opened=plan.opened, kept=plan.kept, resolved=len(gone), waived=plan.waived)


@dataclass
class _Plan:
    """The writes one scan makes, collected first so they go to the database in batches."""

    at: dt.datetime
    record_id: int
    opened: int = 0
    kept: int = 0
    waived: int = 0

    def __post_init__(self) -> None:
        self.inserts: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []
        self.requirements: dict[str, tuple[str, ...]] = {}
        self.ids: dict[str, int] = {}
        self.changes: list[dict[str, Any]] = []
        # Changes of new violations wait for their ids: (key, kind, status, message).
        self.new_changes: list[tuple[str, str, Status, str]] = []

    def add(self, key: str, v: Violation, row: Any, scope: str) -> None:
        status: Status = "waived" if v.waiver is not None else "open"
        if status == "waived":
            self.waived += 1
        values = _values(v, scope)
        if row is None:
            self.opened += status == "open"
            self.inserts.append(
                {
                    **values,
                    "key": key,
                    "status": status,
                    "first_seen": self.at,
                    "last_seen": self.at,
                    "changed_at": self.at,
                    "record_id": self.record_id,
                }
            )
            self.requirements[key] = v.requirements
            self.new_changes.append((key, "opened" if status == "open" else "waived", status, v.message))
            return
        self.ids[key] = row.id
        changed = row.status != status
        if status == "open":
            self.opened += changed
            self.kept += not changed
        del values["key"]
        values.update(
            status=status,
            last_seen=self.at,
            changed_at=self.at if changed else row.changed_at,
            record_id=self.record_id,
        )
        # Bound names may not be column names in an UPDATE's SET clause: prefix them.
        self.updates.append({"b_id": row.id, **{f"b_{name}": value for name, value in values.items()}})
        if row.requirements != canonical(list(v.requirements)).decode():
            self.requirements[key] = v.requirements
        if changed:
            kind = "opened" if status == "open" else "waived"
            self.changes.append(_change(self.at, kind, row.id, self.record_id, status, row.status, v.message))
        elif row.message != v.message:
            self.changes.append(
                _change(self.at, "message", row.id, self.record_id, status, row.status, v.message)
            )


def _write(conn: Connection, backend: Backend, plan: _Plan, resolved: list[int], at: dt.datetime) -> None:
    for chunk in chunks(plan.inserts, 200):
        conn.execute(backend.insert_or_nothing(violations, chunk))
    ids = {row.key: row.id for row in _rows_by_key(conn, [i["key"] for i in plan.inserts])}
    ids.update(plan.ids)
    for key, kind, status, message in plan.new_changes:
        plan.changes.append(_change(at, kind, ids[key], plan.record_id, status, None, message))
    if plan.updates:
        columns: dict[str, Any] = {name[2:]: bindparam(name) for name in plan.updates[0] if name != "b_id"}
        statement = violations.update().where(violations.c.id == bindparam("b_id")).values(columns)
        for batch in chunks(plan.updates, 1000):
            conn.execute(statement, batch)
    for ids_chunk in chunks(resolved):
        conn.execute(
            violations.update().where(violations.c.id.in_(ids_chunk)).values(status="resolved", changed_at=at)
        )
    if plan.requirements:
        touched = [ids[key] for key in plan.requirements]
        for ids_chunk in chunks(touched):
            conn.execute(
                delete(violation_requirements).where(violation_requirements.c.violation_id.in_(ids_chunk))
            )
        rows = [
            {"violation_id": vid, "requirement": req}
            for vid, key in zip(touched, plan.requirements, strict=True)
            for req in dict.fromkeys(plan.requirements[key])
        ]
        for chunk in chunks(rows, 1000):
            conn.execute(violation_requirements.insert(), chunk)
    # Sorted by violation, so the change log reads in a stable order within one scan.
    plan.changes.sort(key=lambda c: (c["violation_id"], c["kind"]))
    for chunk in chunks(plan.changes, 1000):
        conn.execute(changes.insert(), chunk)


def _values(v: Violation, scope: str) -> dict[str, Any]:
    waiver = v.waiver
    return {
        "key": violation_key(*v.key()),
        "policy": v.policy,
        "resource": v.resource,
        "item": v.item,
        "title": v.title,
        "titles": canonical(dict(v.titles)).decode(),
        "requirements": canonical(list(v.requirements)).decode(),
        "citation": v.citation,
        "basis": v.basis,
        "severity": v.severity,
        "enforcement": v.enforcement,
        "outcome": v.outcome,
        "message": v.message,
        "reason": v.reason,
        "evidence": canonical(dict(v.evidence)).decode(),
        "source": v.source or scope,
        "service": v.service,
        "address": v.address,
        "waiver": None
        if waiver is None
        else canonical(
            {
                "id": waiver.id,
                "reason": waiver.reason,
                "approved_by": waiver.approved_by,
                "expires": waiver.expires,
            }
        ).decode(),
    }


def _change(
    at: dt.datetime,
    kind: str,
    violation_id: int,
    record_id: int | None,
    status: str | None,
    previous: str | None,
    message: str | None,
) -> dict[str, Any]:
    return {
        "at": at,
        "kind": kind,
        "violation_id": violation_id,
        "waiver_id": None,
        "record_id": record_id,
        "status": status,
        "previous": previous,
        "message": message,
    }


def _rows_by_key(conn: Connection, keys: Sequence[str]) -> Iterator[Any]:
    columns = (
        violations.c.id,
        violations.c.key,
        violations.c.status,
        violations.c.message,
        violations.c.requirements,
        violations.c.changed_at,
    )
    for chunk in chunks(keys):
        yield from conn.execute(select(*columns).where(violations.c.key.in_(chunk)))
