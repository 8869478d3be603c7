"""Decision records, each chained to the one before by its hash, so a gap or an edit shows.

A record's hash is the SHA-256 of the canonical JSON of its id, kind, time, policy-set
hash, input hash, decision and the previous record's hash. Inputs are kept once per
distinct content (their hash is their key): an unchanged estate scanned every hour
costs one copy. The head row remembers the last record, so removing the newest record
shows too; keep a copy of the head (``regie.store verify`` prints it) outside the
database to also catch a rewrite of the whole chain.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from regie.store.backends import Backend
from regie.store.hashing import canonical, loads, sha256
from regie.store.models import ChainReport, Record
from regie.store.schema import chain_head, record_inputs, records

__all__ = ["GENESIS", "append_record", "get_record", "lock_head", "record_hash", "verify_chain"]

#: The "previous hash" of the first record.
GENESIS = "0" * 64


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
    query = (
        select(records, record_inputs.c.body)
        .join_from(records, record_inputs, records.c.input_hash == record_inputs.c.hash, isouter=True)
        .order_by(records.c.id)
    )
    count = 0
    # A server-side cursor on PostgreSQL: closed at once when a broken record ends the walk.
    with conn.execution_options(yield_per=200).execute(query) as rows:
        for row in rows:
            problem = _check(row, expected_id, prev)
            if problem is not None:
                return ChainReport(False, count, expected_id if row.id > expected_id else row.id, problem)
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
        )
    return ChainReport(True, count)


def _check(row: Any, expected_id: int, prev: str) -> str | None:
    if row.id != expected_id:
        return f"record {expected_id} is missing (the next one is {row.id})"
    if row.prev_hash != prev:
        return "its previous-record hash does not match the record before it"
    digest = record_hash(row.id, row.kind, row.at, row.policy_set_hash, row.input_hash, row.decision, prev)
    if digest != row.hash:
        return "its content does not match its hash (the record was altered)"
    if row.body is None:
        return "its input is missing"
    if sha256(row.body.encode()) != row.input_hash:
        return "its input does not match the input hash (the input was altered)"
    return None
