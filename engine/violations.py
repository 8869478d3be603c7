"""Violations: what an evaluation reports, with everything a person needs to act on it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

__all__ = ["EvaluationError", "Violation", "WaiverRef", "finding_fields"]

_NO_TITLES: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class WaiverRef:
    """The waiver that covers a violation."""

    id: str
    reason: str
    approved_by: str
    expires: str


class Violation(NamedTuple):
    """One finding of one policy on one resource (or group).

    ``outcome`` is ``violation`` or ``unknown`` (the policy could not decide, ``reason``
    says why). ``enforcement`` is the level in force for the evaluation's context.
    Identity is (policy, resource, item). A tuple rather than a frozen dataclass: a
    scan of a large estate makes tens of thousands, and tuples are built in C.
    """

    policy: str
    title: str
    requirements: tuple[str, ...]
    citation: str
    severity: str
    enforcement: Literal["advisory", "warn", "deny"]
    outcome: Literal["violation", "unknown"]
    resource: str
    item: str | None
    message: str
    evidence: Mapping[str, Any]
    reason: str | None = None
    address: str | None = None
    source: str | None = None
    service: str | None = None
    basis: str | None = None
    waiver: WaiverRef | None = None
    titles: Mapping[str, str] = _NO_TITLES

    @property
    def waived(self) -> bool:
        return self.waiver is not None

    @property
    def blocking(self) -> bool:
        """A deny-level violation that no waiver covers: fails CI, denies admission."""
        return self.enforcement == "deny" and self.outcome == "violation" and self.waiver is None

    def key(self) -> tuple[str, str, str | None]:
        return (self.policy, self.resource, self.item)

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON form (docs/cli.md, "JSON output")."""
        return {
            **finding_fields(self),
            "waived": self.waived,
            "waiver": None
            if self.waiver is None
            else {
                "id": self.waiver.id,
                "reason": self.waiver.reason,
                "approved_by": self.waiver.approved_by,
                "expires": self.waiver.expires,
            },
        }


def finding_fields(v: Any) -> dict[str, Any]:
    """The JSON fields every form of a violation shares (an evaluation's, the store's): one
    contract for `regie eval --format json`, `/v1/evaluate` and `/v1/violations`."""
    return {
        "policy": v.policy,
        "title": v.title,
        "titles": dict(v.titles),
        "requirements": list(v.requirements),
        "source": v.citation,
        "basis": v.basis,
        "severity": v.severity,
        "enforcement": v.enforcement,
        "outcome": v.outcome,
        "resource": v.resource,
        "item": v.item,
        "address": v.address,
        "origin": v.source,
        "service": v.service,
        "message": v.message,
        "reason": v.reason,
        "evidence": dict(v.evidence),
    }


@dataclass(frozen=True, slots=True)
class EvaluationError:
    """A policy that failed while running; the others still ran."""

    policy: str
    message: str
