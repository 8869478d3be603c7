"""From an evaluation to what the store keeps: the scan to ingest, the decision, the recorded input.

The recorded input is what ``regie replay`` needs to decide again: the facts as the
connectors produced them (secrets already redacted), the context, the evaluation date
and the waivers in force. Nothing else goes in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from regie.engine.catalog import Catalogs
from regie.engine.evaluate import Evaluation, PolicySet
from regie.engine.facts import Resource
from regie.engine.violations import Violation
from regie.engine.waivers import Waiver
from regie.store.hashing import policy_set_hash
from regie.store.models import IngestResult, Scan

if TYPE_CHECKING:
    from regie.store.api import Store

__all__ = ["decision_of", "ingest_evaluation", "scan_from_evaluation", "scanned_sources", "waiver_records"]


def scan_from_evaluation(
    evaluation: Evaluation,
    resources: Sequence[Resource],
    *,
    sources: Iterable[str],
    policy_set: PolicySet,
    catalogs: Catalogs,
    context: str | None,
    today: dt.date,
    waivers: Iterable[Waiver],
    only: Iterable[str] | None = None,
    at: dt.datetime | None = None,
) -> Scan:
    """The scan of one ``regie scan`` or ``regie eval`` run, ready to ingest.

    ``only`` are the policies the run was limited to (``--policy``), if it was.
    """
    wanted = None if only is None else sorted(set(only))
    ran = {p.id for p in policy_set.policies if wanted is None or p.id in wanted}
    ran -= {e.policy for e in evaluation.errors}
    scanned = frozenset(sources)
    scope = " + ".join(sorted(scanned)) or "(no source)"
    record_input = {
        "kind": "scan",
        "sources": sorted(scanned),
        "context": context,
        "today": today.isoformat(),
        "waivers": waiver_records(waivers),
        "only": wanted,
        "resources": [r.to_dict() for r in resources],
    }
    return Scan(
        sources=scanned,
        violations=evaluation.violations,
        scope=scope,
        policy_set_hash=policy_set_hash(policy_set, catalogs),
        input=record_input,
        decision=decision_of(evaluation.violations),
        policies=frozenset(ran) if wanted is not None or evaluation.errors else None,
        at=at,
    )


def ingest_evaluation(
    store: Store,
    evaluation: Evaluation,
    resources: Sequence[Resource],
    *,
    given_sources: Iterable[str],
    failed_sources: Iterable[str],
    policy_set: PolicySet,
    catalogs: Catalogs,
    context: str | None,
    today: dt.date,
    waivers: Iterable[Waiver],
    only: Iterable[str] | None,
) -> IngestResult:
    """What ``regie scan|eval --store`` does after evaluating: ingest the run as one scan."""
    scan = scan_from_evaluation(
        evaluation,
        resources,
        sources=scanned_sources(given_sources, resources, failed_sources),
        policy_set=policy_set,
        catalogs=catalogs,
        context=context,
        today=today,
        waivers=waivers,
        only=only,
    )
    return store.ingest(scan)


def scanned_sources(
    given: Iterable[str], resources: Iterable[Resource], failed: Iterable[str] = ()
) -> frozenset[str]:
    """The sources a scan covered: those given and those its resources name, less the ones that failed.

    Both, because a connector may name its resources' source differently from the
    ``--source`` text, and a source that is now empty has no resource to name it.
    A failed source is left out, so its violations are not resolved by mistake.
    """
    out = {*given, *(r.source for r in resources if r.source)}
    return frozenset(out - set(failed))


def decision_of(violations: Iterable[Violation]) -> dict[str, Any]:
    """What a decision consists of, in the form replay compares: each finding's identity and verdict."""
    found = list(violations)
    rows = sorted(
        ([v.policy, v.resource, v.item, v.outcome, v.enforcement, v.waiver is not None] for v in found),
        key=lambda r: (r[0], r[1], r[2] or "", r[3], r[4]),
    )
    return {"violations": rows, "blocking": sum(1 for v in found if v.blocking)}


def waiver_records(waivers: Iterable[Waiver]) -> list[dict[str, Any]]:
    """Waivers in the form of a waiver file, which :func:`waivers_from_records` reads back."""
    return [
        {
            "id": w.id,
            "policy": w.policy,
            "resource": w.resource,
            "service": w.service,
            "reason": w.reason,
            "approved_by": w.approved_by,
            "expires": w.expires.isoformat(),
        }
        for w in waivers
    ]
