"""One admission request from body to answer: parse, decide within the deadline, count, log, record."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import orjson

from regie.connectors.base import ConnectorError
from regie.service.admission import (
    BadReview,
    Decision,
    decide,
    failure_decision,
    parse_review,
    response_body,
    skipped_decision,
)
from regie.service.deadline import Deadline, DeadlineExceeded, PolicyTimer
from regie.service.namespaces import NamespaceLookup
from regie.service.runtime import Service
from regie.service.tracing import tracer

__all__ = ["handle_admission"]

log = logging.getLogger("regie.service.admission")


async def handle_admission(service: Service, raw: bytes) -> tuple[int, bytes]:
    """The HTTP status and body for one AdmissionReview body: 200 with a decision, or 400."""
    started = time.perf_counter()
    metrics = service.metrics
    with tracer.start_as_current_span("regie.admission") as span:
        try:
            review = parse_review(raw)
        except BadReview as err:
            metrics.decisions.inc("bad_request")
            log.warning("bad AdmissionReview", extra={"field": err.field, "reason": err.message})
            span.set_attribute("regie.outcome", "bad_request")
            return 400, orjson.dumps(err.to_json())
        request: dict[str, Any] = review["request"]
        decision = skipped_decision(request)
        namespaces = _namespace_labels(service, request) if decision is None else _NOT_NEEDED
        if decision is None:
            try:
                decision = await _evaluate(service, request, namespaces.labels)
            except ConnectorError as err:
                metrics.decisions.inc("bad_request")
                where = err.where.removeprefix("AdmissionReview: ").removeprefix("AdmissionReview")
                log.warning(
                    "unreadable object in AdmissionReview", extra={"uid": request["uid"], "field": where}
                )
                span.set_attribute("regie.outcome", "bad_request")
                body = {"error": "bad AdmissionReview", "field": where or "request", "message": err.message}
                return 400, orjson.dumps(body)
        seconds = time.perf_counter() - started
        metrics.decisions.inc(decision.outcome)
        metrics.decision_seconds.observe(seconds)
        if decision.policy_times:
            metrics.policy_seconds.observe_many(decision.policy_times)
        for policy, _ in decision.errors:
            metrics.policy_errors.inc(policy)
        span.set_attribute("regie.outcome", decision.outcome)
        span.set_attribute("regie.allowed", decision.allowed)
        span.set_attribute("regie.uid", decision.uid)
        _log(request, decision, seconds, namespaces.result)
        if decision.recordable and decision.policy_set_hash is not None:
            service.recorder.submit(
                request,
                decision.allowed,
                decision.violations,
                decision.policy_set_hash,
                namespace_labels=namespaces.labels,
            )
        return 200, response_body(decision)


_NO_CACHE = NamespaceLookup(None, "off")
_NOT_NEEDED = NamespaceLookup(None, "none")


def _namespace_labels(service: Service, request: Mapping[str, Any]) -> NamespaceLookup:
    """The request's namespace labels from the cache as it stands: a decision never waits for it."""
    if service.namespaces is None:
        return _NO_CACHE
    found = service.namespaces.lookup(request)
    if found.result != "none":
        service.metrics.namespace_lookups.inc(found.result)
    return found


async def _evaluate(
    service: Service, request: Mapping[str, Any], namespace_labels: Mapping[str, Mapping[str, str]] | None
) -> Decision:
    snapshot = service.holder.current
    fail_closed = service.fail_closed

    def run(deadline: Deadline) -> Decision:
        timer = PolicyTimer(deadline)
        with tracer.start_as_current_span("regie.evaluate") as span:
            span.set_attribute("regie.policies", len(snapshot.policy_set.policies))
            # The review was parsed for this request alone: redact its objects in place.
            decision = decide(
                request,
                snapshot,
                fail_closed=fail_closed,
                progress=timer,
                namespace_labels=namespace_labels,
                owned=True,
            )
        decision.policy_times = timer.times
        return decision

    try:
        return await service.evaluator.run(run, service.deadline)
    except DeadlineExceeded:
        mode = service.options.failure_mode
        service.metrics.deadline_hits.inc(mode)
        log.error(
            "admission evaluation exceeded its deadline",
            extra={"uid": request["uid"], "deadline_ms": service.options.deadline_ms, "failure_mode": mode},
        )
        why = f"evaluation exceeded its deadline of {service.options.deadline_ms} ms"
        return failure_decision(request, fail_closed=fail_closed, why=why)
    except ConnectorError:
        raise
    except Exception as err:  # a bug in Regie: answer per the failure mode, never a 500
        log.exception("admission evaluation failed", extra={"uid": request["uid"]})
        why = f"internal error: {type(err).__name__}"
        return failure_decision(request, fail_closed=fail_closed, why=why)


def _log(request: Mapping[str, Any], decision: Decision, seconds: float, namespace_labels: str) -> None:
    gvk = request.get("kind")
    denied = sorted({v.policy for v in decision.violations if v.blocking})
    warned = sorted({v.policy for v in decision.violations if not v.blocking and v.enforcement == "warn"})
    log.info(
        "admission decision",
        extra={
            "uid": decision.uid,
            "operation": request.get("operation"),
            "kind": gvk.get("kind") if isinstance(gvk, Mapping) else None,
            "namespace": request.get("namespace"),
            "object_name": request.get("name"),
            "allowed": decision.allowed,
            "outcome": decision.outcome,
            "dry_run": decision.dry_run,
            "denied_by": denied,
            "warned_by": warned,
            "duration_ms": round(seconds * 1000, 3),
            # hit, stale, missing, empty, none (not needed), off: a decision
            # made without its namespace's labels can be told from one made with them
            "namespace_labels": namespace_labels,
        },
    )
