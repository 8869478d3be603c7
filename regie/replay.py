"""``regie replay``: decide a recorded decision again, from its stored input, with today's policies.

A scan record is replayed over its recorded facts, context, date, waivers and policy
subset; an admission record over its (redacted) AdmissionRequest and namespace labels,
in the admission context, on the day it was decided. The outcome is the same when the
same findings come out with the same verdicts (and, for admission, the same answer).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from regie.connectors.base import ConnectorError, Ownership
from regie.engine.catalog import Catalogs
from regie.engine.evaluate import PolicySet, evaluate
from regie.engine.facts import FactError, Inventory, Resource, resources_from_records
from regie.engine.waivers import WaiverError, waivers_from_records
from regie.loading import InputError
from regie.store import Record, Store, decision_of, policy_set_hash
from regie.store.hashing import canonical, sha256
from regie.store.records import pruned_by, record_hash

__all__ = ["ReplayResult", "render_replay", "replay_record"]

# A finding as decisions keep it: [policy, resource, item, outcome, enforcement, waived].
Row = Sequence[Any]


@dataclass(frozen=True, slots=True)
class ReplayResult:
    record: Record
    policy_set_hash: str
    appeared: list[Row] = field(default_factory=list)
    disappeared: list[Row] = field(default_factory=list)
    changed: list[tuple[Row, Row]] = field(default_factory=list)
    allowed: tuple[bool, bool] | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def policy_set_changed(self) -> bool:
        return self.policy_set_hash != self.record.policy_set_hash

    @property
    def same(self) -> bool:
        answer_same = self.allowed is None or self.allowed[0] == self.allowed[1]
        return answer_same and not (self.appeared or self.disappeared or self.changed or self.errors)


def replay_record(
    store: Store,
    record_id: int,
    policy_set: PolicySet,
    catalogs: Catalogs,
    ownership: Ownership | None = None,
) -> ReplayResult:
    """Re-run record ``record_id`` (an admission record with ``ownership``, the label names the
    configuration gives). Raises :class:`InputError` for a missing or damaged record."""
    where = f"record {record_id}"
    record = store.get_record(record_id, with_input=True)
    if record is None:
        raise InputError(where, f"no such record in {store.where}")
    pruner = pruned_by(record.input)
    if pruner is not None:
        before = record.input.get("before", "?") if record.input else "?"
        raise InputError(
            where,
            f"its input was pruned by record {pruner} (the inputs of records decided before {before}); "
            "a pruned record cannot be replayed",
        )
    if record.input is None or sha256(canonical(record.input)) != record.input_hash:
        raise InputError(where, "its stored input is missing or does not match its hash; run verify")
    digest = record_hash(
        record.id,
        record.kind,
        record.at,
        record.policy_set_hash,
        record.input_hash,
        canonical(record.decision).decode(),
        record.prev_hash,
    )
    if digest != record.hash:
        raise InputError(where, "the record does not match its hash (it was altered); run verify")
    day = dt.datetime.fromisoformat(record.at.replace("Z", "+00:00")).date()
    data = record.input
    try:
        if record.kind == "scan":
            evaluation = evaluate(
                policy_set,
                Inventory(resources_from_records(data["resources"], f"{where}: input")),
                catalogs,
                context=data.get("context"),
                today=dt.date.fromisoformat(data["today"]),
                waivers=waivers_from_records(data.get("waivers") or [], f"{where}: input"),
                only=data.get("only"),
            )
        elif record.kind == "admission":
            evaluation = evaluate(
                policy_set,
                Inventory(_admission_resources(data, catalogs, where, ownership or Ownership())),
                catalogs,
                context="admission",
                today=day,
                # as the webhook decides: estate-wide policies are not asked about one object
                only=[lp.id for lp in policy_set.policies if lp.checked.meta.scope != "estate"],
            )
        else:
            raise InputError(where, f"a `{record.kind}` record cannot be replayed")
    except (FactError, WaiverError, ConnectorError) as err:
        raise InputError(err.where, err.message) from None
    now = decision_of(evaluation.violations)
    appeared, disappeared, changed = _compare(record.decision["violations"], now["violations"])
    allowed = None
    if record.kind == "admission":
        allowed = (bool(record.decision.get("allowed")), now["blocking"] == 0)
    return ReplayResult(
        record,
        policy_set_hash(policy_set, catalogs, ownership),
        appeared,
        disappeared,
        changed,
        allowed,
        [f"{e.policy}: {e.message}" for e in evaluation.errors],
    )


def render_replay(result: ReplayResult) -> list[str]:
    """Lines for people: the verdict first, then why."""
    r = result.record
    head = f"record {r.id} ({r.kind}, {r.at}): "
    lines = [head + ("same outcome with today's policies" if result.same else "a different outcome today")]
    if result.policy_set_changed:
        lines.append(f"policy set changed: {r.policy_set_hash[:12]} then, {result.policy_set_hash[:12]} now")
    else:
        lines.append(f"policy set unchanged ({r.policy_set_hash[:12]})")
    if result.allowed is not None and result.allowed[0] != result.allowed[1]:
        then, now = (("allowed" if a else "denied") for a in result.allowed)
        lines.append(f"answer: {then} then, {now} now")
    lines += [f"  + appeared:    {_row(row)}" for row in result.appeared]
    lines += [f"  - disappeared: {_row(row)}" for row in result.disappeared]
    lines += [f"  ~ changed:     {_row(old)} → {_verdict(new)}" for old, new in result.changed]
    lines += [f"  ! failed:      {e}" for e in result.errors]
    return lines


def _admission_resources(
    data: Mapping[str, Any], catalogs: Catalogs, where: str, ownership: Ownership
) -> list[Resource]:
    from regie.connectors.kubernetes.admission import resources_from_admission

    return resources_from_admission(
        {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": data["request"]},
        where=f"{where}: input",
        catalogs=catalogs,
        ownership=ownership,
        namespace_labels=data.get("namespace_labels") or None,
    )


def _compare(then: Sequence[Row], now: Sequence[Row]) -> tuple[list[Row], list[Row], list[tuple[Row, Row]]]:
    old = {tuple(row[:3]): row for row in then}
    new = {tuple(row[:3]): row for row in now}
    appeared = [new[k] for k in new if k not in old]
    disappeared = [old[k] for k in old if k not in new]
    changed = [(old[k], new[k]) for k in old if k in new and list(old[k][3:]) != list(new[k][3:])]
    return appeared, disappeared, changed


def _row(row: Row) -> str:
    policy, resource, item = row[0], row[1], row[2]
    target = resource if item is None else f"{resource}/{item}"
    return f"{policy} on {target} ({_verdict(row)})"


def _verdict(row: Row) -> str:
    outcome, enforcement, waived = row[3], row[4], row[5]
    return f"{enforcement} {outcome}" + (", waived" if waived else "")
