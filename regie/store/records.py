"""Decision records, each chained to the one before by its hash, so a gap or an edit shows.

A record's hash is the SHA-256 of the canonical JSON of its id, kind, time, policy-set
hash, input hash, decision and the previous record's hash. Inputs are kept once per
distinct content (their hash is their key): an unchanged estate scanned every hour
costs one copy. The head row remembers the last record, so removing the newest record
shows too; keep a copy of the head (``regie.store verify`` prints it) outside the
database to also catch a rewrite of the whole chain.

Inputs can be pruned (:func:`prune_inputs`, data minimisation): the inputs that belong only
to records decided before a date are replaced by a marker naming a ``prune`` record, which
is appended to the chain and lists their hashes. The pruned records keep their hashes and
decisions; :func:`verify_chain` accepts a missing input only where a later ``prune`` record
lists it, and a pruned record can no longer be replayed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.engine import Connection

from regie.store.backends import Backend, chunks
from regie.store.hashing import canonical, loads, sha256
from regie.store.models import ChainReport, PruneResult, Record
from regie.store.schema import chain_head, record_inputs, records

__all__ = [
    "GENESIS",
    "append_record",
    "get_record",
    "lock_head",
    "prune_inputs",
    "pruned_by",
    "record_hash",
    "verify_chain",
]

#: The "previous hash" of the first record, and the policy-set hash of a ``prune`` record.
GENESIS = "0" * 64

#: How a pruned input's body starts. Stored inputs are canonical JSON with sorted keys, whose
#: first key is never this one; verify_chain does not rely on it (the prune record's list does).
_PRUNED = '{"pruned_by_record":'


def lock_head(conn: Connection) -> tuple[int, str]:
    """Lock the head row for the rest of the transaction; the last record's id and hash."""
    row = conn.execute(select(chain_head).where(chain_head.c.id == 1).with_for_update()).one()
    return int(row.record_id), str(row.hash)


def append_record(
    conn: Connection,
    backend: Backend,
    *,
    kind: str,
    at: dt.datetime,
    policy_set_hash: str,
    input: Mapping[str, Any],
    decision: Mapping[str, Any],
) -> Record:
    """Append a record after the head; the caller holds the head lock (:func:`lock_head`)."""
    last_id, last_hash = lock_head(conn)
    body = canonical(input)
    input_hash = sha256(body)
    conn.execute(backend.insert_or_nothing(record_inputs, [{"hash": input_hash, "body": body.decode()}]))
    # the same input again after it was pruned: the new record needs it back
    conn.execute(
        record_inputs.update()
        .where(record_inputs.c.hash == input_hash, record_inputs.c.body.startswith(_PRUNED, autoescape=True))
        .values(body=body.decode())
    )
    decision_text = canonical(decision).decode()
    at_text = at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    record_id = last_id + 1
    digest = record_hash(record_id, kind, at_text, policy_set_hash, input_hash, decision_text, last_hash)
    conn.execute(
        records.insert().values(
            id=record_id,
            kind=kind,
            at=at_text,
            policy_set_hash=policy_set_hash,
            input_hash=input_hash,
            decision=decision_text,
            prev_hash=last_hash,
            hash=digest,
        )
    )
    conn.execute(chain_head.update().where(chain_head.c.id == 1).values(record_id=record_id, hash=digest))
    return Record(
        record_id, kind, at_text, policy_set_hash, input_hash, loads(decision_text), last_hash, digest
    )


def record_hash(
    record_id: int,
    kind: str,
    at: str,
    policy_set_hash: str,
    input_hash: str,
    decision: str,
    prev_hash: str,
) -> str:
    return sha256(
        canonical(
            {
                "id": record_id,
                "kind": kind,
                "at": at,
                "policy_set_hash": policy_set_hash,
                "input_hash": input_hash,
                "decision": decision,
                "prev_hash": prev_hash,
            }
        )
    )


def get_record(conn: Connection, record_id: int, *, with_input: bool = False) -> Record | None:
    row = conn.execute(select(records).where(records.c.id == record_id)).one_or_none()
    if row is None:
        return None
    body: Mapping[str, Any] | None = None
    if with_input:
        text = conn.execute(
            select(record_inputs.c.body).where(record_inputs.c.hash == row.input_hash)
        ).scalar_one_or_none()
        body = None if text is None else loads(text)
    return Record(
        row.id,
        row.kind,
        row.at,
        row.policy_set_hash,
        row.input_hash,
        loads(row.decision),
        row.prev_hash,
        row.hash,
        body,
    )


def verify_chain(conn: Connection) -> ChainReport:
    """Walk every record in order; the first one that is missing, altered or mis-linked."""
    expected_id, prev = 1, GENESIS
    pruned, altered = _prune_lists(conn)
    query = (
        select(records, record_inputs.c.body)
        .join_from(records, record_inputs, records.c.input_hash == record_inputs.c.hash, isouter=True)
        .order_by(records.c.id)
    )
    count = gone = 0
    # A server-side cursor on PostgreSQL: closed at once when a broken record ends the walk.
    with conn.execution_options(yield_per=200).execute(query) as rows:
        for row in rows:
            problem = _check(row, expected_id, prev)
            if problem is not None and problem.startswith("its input"):
                if pruned.get(row.input_hash, 0) > row.id:
                    problem = None  # pruned, and a later record in the chain says so
                    gone += 1
                elif altered and altered[0] > row.id:
                    # the prune record that would say so was altered: that is where the chain breaks
                    return ChainReport(False, count, altered[0], _ALTERED, pruned=gone)
            if problem is not None:
                return ChainReport(
                    False, count, expected_id if row.id > expected_id else row.id, problem, pruned=gone
                )
            count += 1
            expected_id, prev = row.id + 1, row.hash
    head_id, head_hash = conn.execute(select(chain_head.c.record_id, chain_head.c.hash)).one()
    if head_id != expected_id - 1 or head_hash != prev:
        return ChainReport(
            False,
            count,
            expected_id,
            f"the head names record {head_id}, but the chain ends at record {expected_id - 1}: "
            "the newest records were removed",
            pruned=gone,
        )
    return ChainReport(True, count, pruned=gone)


def prune_inputs(
    conn: Connection, backend: Backend, *, before: dt.date, at: dt.datetime, dry_run: bool = False
) -> PruneResult:
    """Remove the inputs that belong only to records decided before ``before`` (UTC), and append
    the ``prune`` record that lists them. The caller holds the head lock (:func:`lock_head`).

    An input that a record on or after that day also uses stays (inputs are shared by content),
    and so do the inputs of ``prune`` records. Nothing changes with ``dry_run``.
    """
    cutoff = before.isoformat() + "T00:00:00"  # a record's `at` is "YYYY-MM-DDTHH:MM:SS[.ffffff]Z"
    old = set(
        conn.scalars(
            select(records.c.input_hash).where(records.c.at < cutoff, records.c.kind != "prune").distinct()
        )
    )
    if old:
        old -= set(
            conn.scalars(
                select(records.c.input_hash)
                .where(or_(records.c.at >= cutoff, records.c.kind == "prune"))
                .distinct()
            )
        )
    hashes = sorted(old)
    gone: list[str] = []
    count = 0
    for chunk in chunks(hashes):
        gone += conn.scalars(
            select(record_inputs.c.hash).where(
                record_inputs.c.hash.in_(chunk), ~record_inputs.c.body.startswith(_PRUNED, autoescape=True)
            )
        )
    gone.sort()
    for chunk in chunks(gone):
        count += (
            conn.scalar(select(func.count()).select_from(records).where(records.c.input_hash.in_(chunk))) or 0
        )
    if dry_run or not gone:
        return PruneResult(before, count, len(gone), None, dry_run)
    record = append_record(
        conn,
        backend,
        kind="prune",
        at=at,
        policy_set_hash=GENESIS,
        input={"kind": "prune", "before": before.isoformat()},
        decision={"before": before.isoformat(), "records": count, "inputs": gone},
    )
    marker = f'{_PRUNED}{record.id},"before":"{before.isoformat()}"}}'
    for chunk in chunks(gone):
        conn.execute(record_inputs.update().where(record_inputs.c.hash.in_(chunk)).values(body=marker))
    return PruneResult(before, count, len(gone), record)


def pruned_by(body: Mapping[str, Any] | None) -> int | None:
    """The id of the ``prune`` record that removed this stored input, or None."""
    if isinstance(body, Mapping) and isinstance(body.get("pruned_by_record"), int):
        return int(body["pruned_by_record"])
    return None


def _prune_lists(conn: Connection) -> tuple[dict[str, int], list[int]]:
    """Input hash → the last ``prune`` record that lists it; and the prune records whose content
    does not match their hash (their lists are not trusted)."""
    out: dict[str, int] = {}
    altered: list[int] = []
    for row in conn.execute(select(records).where(records.c.kind == "prune").order_by(records.c.id)):
        digest = record_hash(
            row.id, row.kind, row.at, row.policy_set_hash, row.input_hash, row.decision, row.prev_hash
        )
        try:
            listed = loads(row.decision).get("inputs", []) if digest == row.hash else None
        except (ValueError, AttributeError):
            listed = None
        if not isinstance(listed, list):
            altered.append(row.id)
            continue
        for item in listed:
            if isinstance(item, str):
                out[item] = row.id
    return out, altered


_ALTERED = "its content does not match its hash (the record was altered)"


def _check(row: Any, expected_id: int, prev: str) -> str | None:
    if row.id != expected_id:
        return f"record {expected_id} is missing (the next one is {row.id})"
    if row.prev_hash != prev:
        return "its previous-record hash does not match the record before it"
    digest = record_hash(row.id, row.kind, row.at, row.policy_set_hash, row.input_hash, row.decision, prev)
    if digest != row.hash:
        return _ALTERED
    if row.body is None:
        return "its input is missing"
    if sha256(row.body.encode()) != row.input_hash:
        return "its input does not match the input hash (the input was altered)"
    return None
