"""The store's one interface, over SQLite or PostgreSQL.

>>> import tempfile, os
>>> with open_store(os.path.join(tempfile.mkdtemp(), "regie.db")) as store:
...     store.backend, store.verify_chain().ok
('sqlite', True)
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, OperationalError

from regie.engine.violations import Violation
from regie.engine.waivers import Waiver
from regie.store import ingest as _ingest
from regie.store import queries as _queries
from regie.store import records as _records
from regie.store import waivers as _waivers
from regie.store.backends import WRITE, backend_for
from regie.store.errors import StoreError
from regie.store.migrate import upgrade
from regie.store.models import (
    ChainReport,
    Change,
    DayCount,
    IngestResult,
    Page,
    PruneResult,
    Record,
    Scan,
    StoredViolation,
    StoredWaiver,
    ViolationFilter,
)
from regie.store.scans import decision_of
from regie.store.urls import display, store_url

__all__ = ["Store", "open_store"]

_T = TypeVar("_T")
_ATTEMPTS = 8


def open_store(url: str) -> Store:
    """Open (creating or upgrading its schema first) the store at ``url``.

    ``url`` is ``sqlite:///path.db``, a bare file path, or ``postgresql://user@host/db``.
    Raises :class:`StoreError` for a bad URL or a database that cannot be reached.
    """
    return Store(url)


class Store:
    """Violations with their lifecycle, waivers, the change log and the decision records.

    Safe to share between threads; every method is one transaction. Writers are
    serialised (see ``schema.chain_head``); readers never wait for them.
    """

    def __init__(self, url: str) -> None:
        self._url = store_url(url)
        self.where = display(self._url.set(drivername=self._url.get_backend_name()))
        self._backend = backend_for(self._url)
        self.engine = self._backend.engine(self._url)
        try:
            upgrade(self.engine, self._backend)
        except DBAPIError as err:
            self.engine.dispose()
            raise StoreError(self.where, f"cannot open the store: {_reason(err)}") from None

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._backend.name

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- scans ---------------------------------------------------------------------------

    def ingest(self, scan: Scan) -> IngestResult:
        """Apply one scan, all or nothing, and record it (see ``regie/store/ingest.py``)."""
        at = scan.at or _now()
        return self._write(lambda conn: _ingest.ingest_scan(conn, self._backend, scan, at))

    # --- violations ----------------------------------------------------------------------

    def list_violations(
        self, where: ViolationFilter | None = None, *, cursor: str | None = None, limit: int = 50
    ) -> Page:
        """Violations newest first, filtered; pass the page's ``next_cursor`` for the next page."""
        return self._read(
            lambda conn: _queries.list_violations(conn, where or ViolationFilter(), cursor, limit)
        )

    def get_violation(self, violation_id: int) -> StoredViolation | None:
        """One violation with its evidence and its history, oldest change first."""
        return self._read(lambda conn: _queries.get_violation(conn, violation_id))

    def changes_after(self, after_id: int = 0, *, limit: int = 100) -> list[Change]:
        """The change log after id ``after_id`` (0: from the start), oldest first."""
        return self._read(lambda conn: _queries.changes_after(conn, after_id, limit))

    def last_change_id(self) -> int:
        """The newest change's id (0 when there is none): where a new feed reader starts."""
        return self._read(_queries.last_change_id)

    def open_counts(self, days: int = 30, *, today: dt.date | None = None) -> list[DayCount]:
        """Open and waived violations at the end of each of the last ``days`` days, oldest first."""
        end = today or _now().date()
        return self._read(lambda conn: _queries.open_counts(conn, days, end))

    # --- waivers -------------------------------------------------------------------------

    def list_waivers(self, *, include_revoked: bool = False) -> list[StoredWaiver]:
        return self._read(lambda conn: _waivers.list_waivers(conn, include_revoked=include_revoked))

    def get_waiver(self, waiver_id: str) -> StoredWaiver | None:
        return self._read(lambda conn: _waivers.get_waiver(conn, waiver_id))

    def create_waiver(
        self,
        *,
        policy: str,
        resource: str,
        reason: str,
        approved_by: str,
        expires: dt.date | str,
        created_by: str,
        service: str | None = None,
        waiver_id: str | None = None,
    ) -> StoredWaiver:
        """Grant a waiver (validated as a waiver file entry is); it waives matching open violations now.

        Raises :class:`StoreError` naming the field that is wrong.
        """
        at = _now()
        return self._write(
            lambda conn: _waivers.create_waiver(
                conn,
                policy=policy,
                resource=resource,
                reason=reason,
                approved_by=approved_by,
                expires=expires,
                created_by=created_by,
                service=service,
                waiver_id=waiver_id,
                at=at,
            )
        )

    def revoke_waiver(self, waiver_id: str, *, revoked_by: str) -> StoredWaiver:
        at = _now()
        return self._write(lambda conn: _waivers.revoke_waiver(conn, waiver_id, revoked_by=revoked_by, at=at))

    def waivers_in_force(self) -> list[Waiver]:
        """The store's unrevoked waivers as the engine's, to pass to ``evaluate(waivers=…)``.

        Expired ones are included: the evaluation reports them as expired and applies none.
        """
        return [w.waiver() for w in self.list_waivers()]

    # --- decision records ----------------------------------------------------------------

    def record_admission(
        self,
        request: Mapping[str, Any],
        *,
        allowed: bool,
        messages: Sequence[str],
        policy_set_hash: str,
        violations: Sequence[Violation] = (),
        warnings: Sequence[str] = (),
        namespace_labels: Mapping[str, Mapping[str, str]] | None = None,
        at: dt.datetime | None = None,
    ) -> Record:
        """Record one admission decision (kind ``admission``), chained like every record.

        ``request`` is the AdmissionReview's ``request``; its objects are redacted again
        here (``redact_object``), so a secret can never reach the store by this path.
        ``namespace_labels`` are the namespace labels the decision used, for replay.
        """
        from regie.connectors.kubernetes.facts import redact_object

        redacted = dict(request)
        for field in ("object", "oldObject"):
            if isinstance(redacted.get(field), Mapping):
                redacted[field] = redact_object(redacted[field])
        record_input = {
            "kind": "admission",
            "request": redacted,
            "namespace_labels": {k: dict(v) for k, v in (namespace_labels or {}).items()},
        }
        decision = {
            **decision_of(violations),
            "allowed": allowed,
            "messages": list(messages),
            "warnings": list(warnings),
        }
        when = at or _now()
        return self._write(
            lambda conn: _records.append_record(
                conn,
                self._backend,
                kind="admission",
                at=when,
                policy_set_hash=policy_set_hash,
                input=record_input,
                decision=decision,
            )
        )

    def get_record(self, record_id: int, *, with_input: bool = False) -> Record | None:
        return self._read(lambda conn: _records.get_record(conn, record_id, with_input=with_input))

    def verify_chain(self) -> ChainReport:
        """Check every decision record and its link to the one before; the first that breaks."""
        return self._read(_records.verify_chain)

    def prune_inputs(self, before: dt.date, *, dry_run: bool = False) -> PruneResult:
        """Remove the stored inputs of records decided before ``before`` (UTC), keeping the
        records and the chain; a ``prune`` record attests which (see regie.store.records)."""
        when = _now()
        if dry_run:
            return self._read(
                lambda conn: _records.prune_inputs(conn, self._backend, before=before, at=when, dry_run=True)
            )
        return self._write(lambda conn: _records.prune_inputs(conn, self._backend, before=before, at=when))

    # --- transactions --------------------------------------------------------------------

    def _read(self, fn: Callable[[Connection], _T]) -> _T:
        try:
            with self.engine.connect() as conn, conn.begin():
                return fn(conn)
        except OperationalError as err:
            raise StoreError(self.where, _reason(err)) from None

    def _write(self, fn: Callable[[Connection], _T]) -> _T:
        """Run ``fn`` in one write transaction holding the write lock; retry what may be retried."""
        for attempt in range(_ATTEMPTS):
            try:
                with self.engine.connect() as conn:
                    conn.execution_options(**{WRITE: True})
                    with conn.begin():
                        _records.lock_head(conn)
                        return fn(conn)
            except DBAPIError as err:
                if not self._backend.retryable(err) or attempt == _ATTEMPTS - 1:
                    if isinstance(err, OperationalError):
                        raise StoreError(self.where, _reason(err)) from None
                    raise
                time.sleep(min(2.0, 0.05 * 2**attempt) * random.uniform(0.5, 1.5))
        raise AssertionError("unreachable")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _reason(err: DBAPIError) -> str:
    """The driver's own first line, which says what went wrong (refused, no such database, …)."""
    text = str(err.orig).strip().splitlines()
    return text[0] if text else type(err.orig).__name__
