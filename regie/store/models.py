"""What the store takes and gives: plain frozen records, JSON-ready through ``to_dict``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from regie.engine.violations import Violation, finding_fields
from regie.engine.waivers import Waiver

__all__ = [
    "ChainReport",
    "Change",
    "DayCount",
    "IngestResult",
    "Page",
    "Record",
    "Scan",
    "Status",
    "StoredViolation",
    "StoredWaiver",
    "ViolationFilter",
]

Status = Literal["open", "resolved", "waived"]


@dataclass(frozen=True, slots=True)
class Scan:
    """One scan to ingest: what it found, for which sources, and what it was decided from.

    ``sources`` are the sources scanned: an open violation of one of them that this scan
    did not find is resolved. A violation without a source of its own (a group finding,
    a resource without ``source``) is attributed to ``scope``, the sources scanned
    together (``a + b``), which counts as scanned too. ``input`` is the recorded input
    (redacted facts, context, date, waivers) that ``regie replay`` re-runs;
    ``decision`` what was decided from it. ``policies`` are the policies that ran to the
    end (None: all): a violation of a policy left out (``--policy``) or that failed is
    never resolved by a scan that did not run it.
    """

    sources: frozenset[str]
    violations: Sequence[Violation]
    scope: str
    policy_set_hash: str
    input: Mapping[str, Any]
    decision: Mapping[str, Any]
    policies: frozenset[str] | None = None
    at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class IngestResult:
    record_id: int
    opened: int
    kept: int
    resolved: int
    waived: int

    def summary(self) -> str:
        return (
            f"store: {self.opened} opened, {self.kept} kept open, {self.resolved} resolved, "
            f"{self.waived} waived (record {self.record_id})"
        )


@dataclass(frozen=True, slots=True)
class Change:
    """One entry of the change log; a violation's history is its changes.

    ``kind`` is ``opened``, ``resolved``, ``waived`` or ``message`` for a violation
    (``status`` after, ``previous`` before), ``waiver_created`` or ``waiver_revoked``
    for a waiver. ``record_id`` is the scan that caused it (None for a waiver's doing).
    ``violation`` is the violation as it is now, for feeds (without its history).
    """

    id: int
    at: dt.datetime
    kind: str
    violation_id: int | None
    waiver_id: str | None
    record_id: int | None
    status: str | None
    previous: str | None
    message: str | None
    violation: StoredViolation | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": _iso(self.at),
            "kind": self.kind,
            "violation_id": self.violation_id,
            "waiver_id": self.waiver_id,
            "record_id": self.record_id,
            "status": self.status,
            "previous": self.previous,
            "message": self.message,
            "violation": None if self.violation is None else self.violation.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class StoredViolation:
    id: int
    key: str
    policy: str
    title: str
    titles: Mapping[str, str]
    requirements: tuple[str, ...]
    citation: str
    basis: str | None
    severity: str
    enforcement: str
    outcome: str
    resource: str
    item: str | None
    message: str
    reason: str | None
    evidence: Mapping[str, Any]
    source: str
    service: str | None
    address: str | None
    waiver: Mapping[str, Any] | None
    status: Status
    first_seen: dt.datetime
    last_seen: dt.datetime
    changed_at: dt.datetime
    record_id: int | None
    history: tuple[Change, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: the fields of ``regie eval --format json`` plus the lifecycle."""
        return {
            "id": self.id,
            "key": self.key,
            **finding_fields(self),
            "waived": self.status == "waived",
            "waiver": None if self.waiver is None else dict(self.waiver),
            "status": self.status,
            "first_seen": _iso(self.first_seen),
            "last_seen": _iso(self.last_seen),
            "changed_at": _iso(self.changed_at),
            "record_id": self.record_id,
            "history": [c.to_dict() for c in self.history],
        }


@dataclass(frozen=True, slots=True)
class StoredWaiver:
    id: str
    policy: str
    resource: str
    service: str | None
    reason: str
    approved_by: str
    expires: dt.date
    created_by: str
    created_at: dt.datetime
    revoked_by: str | None = None
    revoked_at: dt.datetime | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def waiver(self) -> Waiver:
        """The engine's waiver, so store and file waivers match violations the same way."""
        return Waiver(
            id=self.id,
            policy=self.policy,
            resource=self.resource,
            service=self.service,
            reason=self.reason,
            approved_by=self.approved_by,
            expires=self.expires,
            where=f"store: waiver {self.id}",
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "policy": self.policy,
            "resource": self.resource,
            "service": self.service,
            "reason": self.reason,
            "approved_by": self.approved_by,
            "expires": self.expires.isoformat(),
            "created_by": self.created_by,
            "created_at": _iso(self.created_at),
            "revoked_by": self.revoked_by,
            "revoked_at": None if self.revoked_at is None else _iso(self.revoked_at),
        }


@dataclass(frozen=True, slots=True)
class Record:
    """A decision record: what was decided, from which input, under which policy set.

    ``hash`` covers every other field and ``prev_hash``, the hash of the record before.
    ``input`` is loaded only when asked for (it can be a whole estate's facts).
    """

    id: int
    kind: str
    at: str
    policy_set_hash: str
    input_hash: str
    decision: Mapping[str, Any]
    prev_hash: str
    hash: str
    input: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "at": self.at,
            "policy_set_hash": self.policy_set_hash,
            "input_hash": self.input_hash,
            "decision": dict(self.decision),
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True, slots=True)
class ChainReport:
    """``ok``, or the first record that breaks the chain (``broken_at``) and how."""

    ok: bool
    records: int
    broken_at: int | None = None
    problem: str | None = None
    #: Records whose input a later ``prune`` record removed (see :class:`PruneResult`).
    pruned: int = 0

    def summary(self) -> str:
        if self.ok:
            its = "its input" if self.pruned == 1 else "their inputs"
            pruned = f" ({self.pruned} with {its} pruned)" if self.pruned else ""
            return f"chain intact: {self.records} records{pruned}"
        return f"chain broken at record {self.broken_at}: {self.problem}"


@dataclass(frozen=True, slots=True)
class PruneResult:
    """What pruning the inputs of records decided before ``before`` did (or would do, dry).

    ``records``: the records whose input went; ``inputs``: the distinct inputs removed (records
    share an input when it did not change); ``record``: the ``prune`` record that attests it in
    the chain, None for a dry run or when there was nothing to prune."""

    before: dt.date
    records: int
    inputs: int
    record: Record | None = None
    dry_run: bool = False

    def summary(self) -> str:
        if not self.inputs:
            return f"nothing to prune: no stored input belongs only to records decided before {self.before}"
        records = "1 record" if self.records == 1 else f"{self.records} records"
        what = f"the inputs of {records} ({self.inputs} distinct) decided before {self.before}"
        if self.dry_run:
            return f"would prune {what} (dry run: nothing changed)"
        assert self.record is not None
        return f"pruned {what}; record {self.record.id} attests it"


@dataclass(frozen=True, slots=True)
class ViolationFilter:
    """Every field that is set must match; ``requirement`` is one of the violation's requirements;
    ``since`` keeps violations whose status changed at or after it."""

    policy: str | None = None
    requirement: str | None = None
    severity: str | None = None
    enforcement: str | None = None
    source: str | None = None
    service: str | None = None
    status: Status | None = None
    since: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """One page of violations, newest first; ``next_cursor`` fetches the next (None: the last page)."""

    items: tuple[StoredViolation, ...]
    next_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class DayCount:
    """Violations open and waived at the end of a day (UTC)."""

    day: dt.date
    open: int
    waived: int

    def to_dict(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "open": self.open, "waived": self.waived}


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
