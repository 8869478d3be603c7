"""Waivers: time-bound, approved exceptions, kept beside the policies as data.

A waived violation is still reported, marked waived. An expired waiver no
longer applies, and a waiver that matches nothing is reported too, so stale
exceptions are seen and cleaned up.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from regie.dsl.builtins import compile_regex, glob_to_regex
from regie.engine.violations import Violation, WaiverRef

__all__ = ["Waiver", "WaiverError", "WaiverStatus", "apply_waivers", "waivers_from_records"]

_FIELDS = {"id", "policy", "resource", "service", "reason", "approved_by", "expires"}


class WaiverError(ValueError):
    def __init__(self, where: str, message: str) -> None:
        self.where = where
        self.message = message
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True, slots=True)
class Waiver:
    """``policy`` and ``resource`` are globs (``*`` matches any text); ``service`` is exact."""

    id: str
    policy: str
    resource: str
    service: str | None
    reason: str
    approved_by: str
    expires: dt.date
    where: str

    def matches(self, v: Violation) -> bool:
        if not _glob(self.policy).search(v.policy):
            return False
        targets = [v.resource] if v.item is None else [v.resource, f"{v.resource}/{v.item}"]
        if not any(_glob(self.resource).search(t) for t in targets):
            return False
        return self.service is None or v.service == self.service

    def expired(self, today: dt.date) -> bool:
        return today > self.expires


@dataclass(frozen=True, slots=True)
class WaiverStatus:
    waiver: Waiver
    matched: int
    expired: bool

    def to_dict(self) -> dict[str, Any]:
        w = self.waiver
        return {
            "id": w.id,
            "policy": w.policy,
            "resource": w.resource,
            "service": w.service,
            "reason": w.reason,
            "approved_by": w.approved_by,
            "expires": w.expires.isoformat(),
            "matched": self.matched,
            "expired": self.expired,
            "where": w.where,
        }


def waivers_from_records(data: Any, where: str) -> list[Waiver]:
    """Waivers from a file's data: a list, or a map with a ``waivers`` list."""
    records = data.get("waivers") if isinstance(data, Mapping) else data
    if not isinstance(records, list):
        raise WaiverError(where, "expected a list of waivers (or a map with a `waivers` list)")
    out = []
    ids: set[str] = set()
    for i, record in enumerate(records):
        at = f"{where}: waivers[{i}]"
        if not isinstance(record, Mapping):
            raise WaiverError(at, "a waiver is a map")
        unknown = set(record) - _FIELDS
        if unknown:
            field = sorted(unknown)[0]
            close = difflib.get_close_matches(str(field), sorted(_FIELDS), n=1)
            if close:
                raise WaiverError(f"{at}.{field}", f"unknown field (did you mean `{close[0]}`?)")
            raise WaiverError(
                f"{at}.{sorted(unknown)[0]}", f"unknown field; waivers have {', '.join(sorted(_FIELDS))}"
            )
        for required in ("policy", "resource", "reason", "approved_by", "expires"):
            if not record.get(required):
                raise WaiverError(f"{at}.{required}", f"a waiver needs `{required}`")
        expires = record["expires"]
        if isinstance(expires, str):
            try:
                expires = dt.date.fromisoformat(expires)
            except ValueError:
                raise WaiverError(
                    f"{at}.expires", f"expected a date like 2027-01-31, got {expires!r}"
                ) from None
        if isinstance(expires, dt.datetime):
            expires = expires.date()
        if not isinstance(expires, dt.date):
            raise WaiverError(f"{at}.expires", f"expected a date like 2027-01-31, got {expires!r}")
        ident = str(record.get("id") or f"waiver-{i + 1}")
        if ident in ids:
            raise WaiverError(f"{at}.id", f"duplicate waiver id `{ident}`")
        ids.add(ident)
        for key in ("policy", "resource", "reason", "approved_by", "service", "id"):
            if key in record and record[key] is not None and not isinstance(record[key], str):
                raise WaiverError(f"{at}.{key}", f"expected a string, got {record[key]!r}")
        out.append(
            Waiver(
                id=ident,
                policy=record["policy"],
                resource=record["resource"],
                service=record.get("service"),
                reason=record["reason"],
                approved_by=record["approved_by"],
                expires=expires,
                where=at,
            )
        )
    return out


def apply_waivers(
    violations: Sequence[Violation], waivers: Iterable[Waiver], today: dt.date
) -> tuple[list[Violation], list[WaiverStatus]]:
    """Mark the violations each waiver covers; report every waiver's matches and expiry."""
    waivers = list(waivers)
    counts = dict.fromkeys((w.id for w in waivers), 0)
    out = []
    for v in violations:
        for w in waivers:
            if w.matches(v):
                counts[w.id] += 1
                if not w.expired(today):
                    v = v._replace(waiver=WaiverRef(w.id, w.reason, w.approved_by, w.expires.isoformat()))
                    break
        out.append(v)
    return out, [WaiverStatus(w, counts[w.id], w.expired(today)) for w in waivers]


def _glob(pattern: str) -> Any:
    return compile_regex(glob_to_regex(pattern))
