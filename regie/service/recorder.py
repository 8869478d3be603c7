"""The hook through which admission decisions reach the violation store.

The webhook records every decision it made on a request that will be persisted
(not ``dryRun``, not a skipped DELETE). Recording must never slow or fail a
decision: :class:`BackgroundRecorder` hands each one to a single worker thread and
counts what the recorder could not keep.

Each decision comes with the namespace labels it used, so that a replay sees what the
webhook saw.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from regie.engine.violations import Violation

__all__ = ["BackgroundRecorder", "DecisionRecorder", "NullRecorder"]

log = logging.getLogger("regie.service.recorder")


@runtime_checkable
class DecisionRecorder(Protocol):
    """Receives each recordable admission decision (the store implements this)."""

    def record_admission(
        self,
        review_request: dict[str, Any],
        allowed: bool,
        violations: list[Violation],
        policy_set_hash: str,
        namespace_labels: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        """``review_request`` is the AdmissionReview's ``request`` as received (unredacted:
        the recorder redacts before storing); ``violations`` all of them, advisory included;
        ``namespace_labels`` the labels of the object's namespace the decision used."""


class NullRecorder:
    """The default: decisions are answered, not kept."""

    def record_admission(
        self,
        review_request: dict[str, Any],
        allowed: bool,
        violations: list[Violation],
        policy_set_hash: str,
        namespace_labels: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        return None


_Item = tuple[dict[str, Any], bool, list[Violation], str, Mapping[str, Mapping[str, str]] | None]


class BackgroundRecorder:
    """Calls a recorder on one worker thread, in order; a full queue drops and counts."""

    def __init__(
        self,
        recorder: DecisionRecorder,
        on_failure: Callable[[], None],
        *,
        capacity: int = 10_000,
    ) -> None:
        self._recorder = recorder
        self._on_failure = on_failure
        self._queue: queue.Queue[_Item | None] = queue.Queue(capacity)
        self._thread: threading.Thread | None = None
        self.enabled = not isinstance(recorder, NullRecorder)

    def submit(
        self,
        request: Mapping[str, Any],
        allowed: bool,
        violations: Sequence[Violation],
        policy_hash: str,
        *,
        namespace_labels: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        if not self.enabled:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="regie-recorder", daemon=True)
            self._thread.start()
        try:
            self._queue.put_nowait((dict(request), allowed, list(violations), policy_hash, namespace_labels))
        except queue.Full:
            log.error(
                "decision recorder queue full: decision not recorded", extra={"uid": request.get("uid")}
            )
            self._on_failure()

    def close(self, timeout: float = 5.0) -> None:
        """Record what is queued (up to ``timeout``), then stop the worker."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            request, allowed, violations, policy_hash, labels = item
            try:
                self._recorder.record_admission(
                    request, allowed, violations, policy_hash, namespace_labels=labels
                )
            except Exception as err:  # a store outage must not take the webhook down
                log.error(
                    "decision recorder failed",
                    extra={"uid": request.get("uid"), "error": f"{type(err).__name__}: {err}"},
                )
                self._on_failure()
