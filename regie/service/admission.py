"""Kubernetes AdmissionReview v1 in, AdmissionReview v1 out (k8s.io/api admission/v1 types.go).

The request is parsed with orjson and only the fields a decision needs are checked
(``apiVersion``, ``kind``, ``request.uid``, ``request.operation``); the object itself
goes to the Kubernetes connector as it came. No pydantic on this path: it runs for
every CREATE and UPDATE in the cluster.

The answer (``AdmissionResponse``):

- deny-level violations: ``allowed: false`` and ``status`` (a ``metav1.Status``, code
  403) whose message lists each policy, its message and the source it enforces;
- warn-level violations (and unknowns): ``allowed: true`` with ``warnings``;
- advisory: allowed, nothing shown to the client (they reach the store and the feed).

``uid`` is always the request's: the API server rejects a response whose uid differs
(``VerifyAdmissionResponse`` in k8s.io/apiserver .../webhook/request/admissionreview.go),
and the response's ``apiVersion``/``kind`` must be ``admission.k8s.io/v1``/``AdmissionReview``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from regie.connectors.kubernetes.admission import ADMISSION_API_VERSION, resources_from_admission
from regie.engine.evaluate import evaluate
from regie.engine.facts import Inventory
from regie.engine.violations import Violation
from regie.service.reload import PolicySnapshot

__all__ = [
    "MAX_STATUS_CHARS",
    "MAX_WARNINGS_CHARS",
    "MAX_WARNING_CHARS",
    "BadReview",
    "Decision",
    "decide",
    "failure_decision",
    "parse_review",
    "response_body",
    "skipped_decision",
]

# The API server keeps warnings within limits of its own: in k8s.io/apiserver
# pkg/endpoints/filters/warning.go, `truncateItemRunes = 256` and `truncateAtTotalRunes
# = 4 * 1024` — once a request's warnings (from every webhook and the server itself)
# pass 4096 runes, each is cut to 256 runes and later ones are dropped. The
# AdmissionResponse.warnings doc (k8s.io/api admission/v1 types.go) asks for 120
# characters "if possible" and says warnings over 256 characters may be truncated.
# So each warning here is at most 256 characters (a Python character is a rune), and
# all of Regie's together at most half the request's budget, leaving room for others.
MAX_WARNING_CHARS = 256
MAX_WARNINGS_CHARS = 2048
#: The denial message goes back to kubectl, into events and into audit logs: readable, bounded.
MAX_STATUS_CHARS = 3000
_MAX_STATUS_LINE = 500

_KIND = "AdmissionReview"
_SKIP_OPERATIONS = frozenset({"DELETE", "CONNECT"})
_OPERATIONS = frozenset({"CREATE", "UPDATE", "DELETE", "CONNECT"})

Outcome = Literal["allowed", "warned", "denied", "skipped", "fail_open", "fail_closed"]


class BadReview(ValueError):
    """Not an AdmissionReview v1 this webhook can answer: 400, with the field and what was expected."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")

    def to_json(self) -> dict[str, str]:
        return {"error": "bad AdmissionReview", "field": self.field, "message": self.message}


def parse_review(raw: bytes) -> dict[str, Any]:
    """The AdmissionReview as a dict, with the fields every answer needs checked."""
    if not raw:
        raise BadReview("body", "empty; expected an AdmissionReview (JSON)")
    try:
        review = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise BadReview("body", f"invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}") from None
    if not isinstance(review, dict):
        raise BadReview("body", f"expected a JSON object (an AdmissionReview), got {_json_type(review)}")
    version = review.get("apiVersion")
    if version != ADMISSION_API_VERSION:
        raise BadReview(
            "apiVersion",
            f"expected {ADMISSION_API_VERSION!r}, got {version!r} (set admissionReviewVersions: [v1] "
            "on the webhook configuration)",
        )
    if review.get("kind") != _KIND:
        raise BadReview("kind", f"expected 'AdmissionReview', got {review.get('kind')!r}")
    request = review.get("request")
    if not isinstance(request, dict):
        raise BadReview("request", f"expected an object (the AdmissionRequest), got {_json_type(request)}")
    uid = request.get("uid")
    if not isinstance(uid, str) or not uid:
        raise BadReview("request.uid", f"expected a non-empty string, got {_json_type(uid)}")
    operation = request.get("operation")
    if operation not in _OPERATIONS:
        raise BadReview("request.operation", f"expected CREATE, UPDATE, DELETE or CONNECT, got {operation!r}")
    dry_run = request.get("dryRun")
    if dry_run is not None and not isinstance(dry_run, bool):
        raise BadReview("request.dryRun", f"expected true or false, got {_json_type(dry_run)}")
    return review


@dataclass(slots=True)
class Decision:
    """What the webhook answers for one request, and what it records."""

    uid: str
    allowed: bool
    outcome: Outcome
    warnings: list[str] = field(default_factory=list)
    status: dict[str, Any] | None = None
    violations: list[Violation] = field(default_factory=list)
    dry_run: bool = False
    evaluated: bool = False
    policy_set_hash: str | None = None
    policy_times: list[tuple[tuple[str], float]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)

    @property
    def recordable(self) -> bool:
        """Decisions on requests that will be persisted: evaluated and not a dry run."""
        return self.evaluated and not self.dry_run


def skipped_decision(request: Mapping[str, Any]) -> Decision | None:
    """DELETE and CONNECT are allowed without evaluation; None for everything else."""
    if request.get("operation") in _SKIP_OPERATIONS:
        return Decision(request["uid"], True, "skipped", dry_run=bool(request.get("dryRun")))
    return None


def decide(
    request: Mapping[str, Any],
    snapshot: PolicySnapshot,
    *,
    fail_closed: bool,
    progress: Callable[[str], None] | None = None,
    today: dt.date | None = None,
    namespace_labels: Mapping[str, Mapping[str, str]] | None = None,
    owned: bool = False,
) -> Decision:
    """Evaluate one AdmissionRequest (CREATE or UPDATE) with the ``admission`` enforcement.

    ``namespace_labels`` (``{namespace: labels}``, from the webhook's namespace cache) supply
    the ownership labels the object does not carry itself. ``owned``: the request was parsed
    for this decision alone, so its objects are redacted in place rather than copied.
    A ConnectorError (an object the connector cannot read) propagates: it is bad input.
    Policies that fail while evaluating deny when ``fail_closed``, else become warnings.
    """
    resources = resources_from_admission(
        request,
        where="AdmissionReview",
        catalogs=snapshot.catalogs,
        ownership=snapshot.ownership,
        namespace_labels=namespace_labels,
        owned=owned,
    )
    # No freeze into the permanent generation: it suits a one-shot CLI run, but in a server
    # it would keep every later cycle alive.
    evaluation = evaluate(
        snapshot.policy_set,
        Inventory(resources),
        snapshot.catalogs,
        context="admission",
        today=today,
        waivers=snapshot.waivers,
        only=snapshot.admission_policies,
        progress=progress,
        freeze=False,
    )
    violations = evaluation.violations
    deny = [v for v in violations if v.blocking]
    warn = [
        v
        for v in violations
        if not v.waived and not v.blocking and (v.enforcement == "warn" or v.outcome == "unknown")
    ]
    # Advisory findings are recorded (``violations``), never shown to the client.
    errors = [(e.policy, e.message) for e in evaluation.errors]
    warnings = [_warning_text(v) for v in warn]
    if errors and not fail_closed:
        warnings.extend(f"Regie: policy {p} failed and was skipped (failure mode open)" for p, _ in errors)
    uid = str(request["uid"])
    decision = Decision(
        uid,
        True,
        "warned" if warnings else "allowed",
        warnings=bound_warnings(warnings),
        violations=violations,
        dry_run=bool(request.get("dryRun")),
        evaluated=True,
        policy_set_hash=snapshot.hash,
        errors=errors,
    )
    if deny or (errors and fail_closed):
        decision.allowed = False
        decision.outcome = "denied"
        decision.status = _denial_status(request, deny, errors if fail_closed else [])
    return decision


def failure_decision(request: Mapping[str, Any], *, fail_closed: bool, why: str) -> Decision:
    """The answer when no decision could be made in time (or at all), per the failure mode."""
    uid = str(request["uid"])
    dry_run = bool(request.get("dryRun"))
    if fail_closed:
        message = (
            f"Regie could not decide ({why}); denied because its failure mode is closed. "
            "Retry, or ask the platform team to check the Regie webhook."
        )
        status = {
            "status": "Failure",
            "code": 503,
            "reason": "ServiceUnavailable",
            "message": _clean(message)[:MAX_STATUS_CHARS],
        }
        return Decision(uid, False, "fail_closed", status=status, dry_run=dry_run)
    warning = _bounded(f"Regie could not decide ({why}); allowed without policy checks (failure mode open)")
    return Decision(uid, True, "fail_open", warnings=[warning], dry_run=dry_run)


def response_body(decision: Decision) -> bytes:
    """The AdmissionReview the API server expects back."""
    response: dict[str, Any] = {"uid": decision.uid, "allowed": decision.allowed}
    if decision.status is not None and not decision.allowed:
        response["status"] = decision.status
    if decision.warnings:
        response["warnings"] = decision.warnings
    data: bytes = orjson.dumps({"apiVersion": ADMISSION_API_VERSION, "kind": _KIND, "response": response})
    return data


def bound_warnings(warnings: Sequence[str]) -> list[str]:
    """Deduplicated, each within MAX_WARNING_CHARS, all within MAX_WARNINGS_CHARS."""
    out: list[str] = []
    total = 0
    unique = list(dict.fromkeys(_bounded(w) for w in warnings))
    for i, w in enumerate(unique):
        left = len(unique) - i
        tail = f"Regie: {left} more warning(s) not shown; see the Regie feed or logs"
        if total + len(w) + (len(tail) if left > 1 else 0) > MAX_WARNINGS_CHARS:
            out.append(tail)
            break
        out.append(w)
        total += len(w)
    return out


# --- helpers -------------------------------------------------------------------------------------


def _warning_text(v: Violation) -> str:
    what = "could not decide" if v.outcome == "unknown" else v.message
    if v.outcome == "unknown" and v.reason:
        what = f"could not decide: {v.reason}"
    item = _where(v)
    return f"Regie {v.policy}{item}: {what} (source: {v.citation})"


def _denial_status(
    request: Mapping[str, Any], deny: Sequence[Violation], errors: Sequence[tuple[str, str]]
) -> dict[str, Any]:
    obj = _object_name(request)
    count = len(deny) + len(errors)
    head = f"Regie denied {obj}: {count} {'policy violation' if count == 1 else 'policy violations'}"
    lines = [head]
    used = len(head)
    entries = list(dict.fromkeys(_status_line(v) for v in deny)) + [
        f"- {p}: the policy failed while evaluating and the failure mode is closed" for p, _ in errors
    ]
    for i, line in enumerate(entries):
        left = len(entries) - i
        more = f"- … and {left} more; see the Regie feed"
        if used + len(line) + 1 + (len(more) + 1 if left > 1 else 0) > MAX_STATUS_CHARS:
            lines.append(more)
            break
        lines.append(line)
        used += len(line) + 1
    return {"status": "Failure", "code": 403, "reason": "Forbidden", "message": "\n".join(lines)}


def _status_line(v: Violation) -> str:
    item = _where(v)
    line = _clean(f"- {v.policy}{item} ({v.severity}): {v.message} (source: {v.citation})")
    return line if len(line) <= _MAX_STATUS_LINE else line[: _MAX_STATUS_LINE - 1] + "…"


def _where(v: Violation) -> str:
    """Which part of the object: the item, or the fragment of a derived resource (``image:nginx``)."""
    if v.item:
        return f" [{v.item}]"
    _, sep, fragment = v.resource.partition("#")
    return f" [{fragment}]" if sep else ""


def _object_name(request: Mapping[str, Any]) -> str:
    gvk = request.get("kind")
    kind = gvk.get("kind") if isinstance(gvk, Mapping) else None
    name = request.get("name")
    if not name:
        obj = request.get("object")
        meta = obj.get("metadata") if isinstance(obj, Mapping) else None
        if isinstance(meta, Mapping):
            name = meta.get("name") or meta.get("generateName")
    namespace = request.get("namespace")
    where = f"{namespace}/{name}" if namespace and name else (name or "(unnamed)")
    return _clean(f"{kind or 'object'} {where}")


def _bounded(text: str) -> str:
    text = _clean(text)
    return text if len(text) <= MAX_WARNING_CHARS else text[: MAX_WARNING_CHARS - 1] + "…"


_CONTROL = {c: " " for c in (*range(0, 32), 127)}


def _clean(text: str) -> str:
    """One line without control characters: warnings become HTTP Warning headers."""
    return text.translate(_CONTROL)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "a number"
    )
