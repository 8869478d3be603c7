"""The violation store: SQLite by default, PostgreSQL for several replicas (docs/store.md).

``open_store(url)`` gives a :class:`Store`; ``scan_from_evaluation`` turns a ``regie scan``
or ``regie eval`` run into the :class:`Scan` it ingests; ``policy_set_hash`` is the hash
of the policies and catalogues in force that every decision record carries.
"""

from regie.store.api import Store, open_store
from regie.store.errors import StoreError
from regie.store.hashing import policy_set_hash
from regie.store.models import (
    ChainReport,
    Change,
    DayCount,
    IngestResult,
    Page,
    PruneResult,
    Record,
    Scan,
    Status,
    StoredViolation,
    StoredWaiver,
    ViolationFilter,
)
from regie.store.scans import decision_of, ingest_evaluation, scan_from_evaluation, scanned_sources

__all__ = [
    "ChainReport",
    "Change",
    "DayCount",
    "IngestResult",
    "Page",
    "PruneResult",
    "Record",
    "Scan",
    "Status",
    "Store",
    "StoreError",
    "StoredViolation",
    "StoredWaiver",
    "ViolationFilter",
    "decision_of",
    "ingest_evaluation",
    "open_store",
    "policy_set_hash",
    "scan_from_evaluation",
    "scanned_sources",
]
