"""Prometheus metrics in the text exposition format (version 0.0.4), written here.

A counter, a gauge and a histogram with labels are a few dozen lines; a client library
would be one more dependency for every webhook replica. Each metric keeps its own lock:
observations come from the event loop and from evaluation threads at once.
"""

from __future__ import annotations

import abc
import bisect
import math
import threading
from collections.abc import Callable, Iterable, Sequence

__all__ = ["CONTENT_TYPE", "Counter", "Gauge", "Histogram", "Metrics", "Registry", "SampledGauge"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: Seconds; admission decisions live in the sub-millisecond to second range.
LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
#: Seconds; one policy over one admission request is usually microseconds.
POLICY_BUCKETS = (0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1)

LabelValues = tuple[str, ...]


class Registry:
    """The metrics of one process, rendered in registration order."""

    def __init__(self) -> None:
        self._metrics: list[_Metric] = []

    def register(self, metric: _Metric) -> None:
        self._metrics.append(metric)

    def render(self) -> str:
        out: list[str] = []
        for m in self._metrics:
            out.extend(m.lines())
        return "\n".join(out) + "\n"


class _Metric(abc.ABC):
    kind = "untyped"

    def __init__(self, registry: Registry, name: str, help: str, labels: Sequence[str] = ()) -> None:
        self.name = name
        self.help = help
        self.labels = tuple(labels)
        self._lock = threading.Lock()
        registry.register(self)

    def _check(self, values: LabelValues) -> None:
        if len(values) != len(self.labels):
            raise ValueError(f"{self.name}: expected labels {self.labels}, got {values}")

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {_escape_help(self.help)}", f"# TYPE {self.name} {self.kind}"]

    @abc.abstractmethod
    def lines(self) -> list[str]:
        """The metric's samples in the text exposition format."""


class Counter(_Metric):
    kind = "counter"

    def __init__(self, registry: Registry, name: str, help: str, labels: Sequence[str] = ()) -> None:
        super().__init__(registry, name, help, labels)
        self._values: dict[LabelValues, float] = {} if labels else {(): 0.0}

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        self._check(labels)
        with self._lock:
            self._values[labels] = self._values.get(labels, 0.0) + amount

    def value(self, *labels: str) -> float:
        return self._values.get(labels, 0.0)

    def lines(self) -> list[str]:
        with self._lock:
            items = sorted(self._values.items())
        return [*self.header(), *(f"{self.name}{_labels(self.labels, k)} {_num(v)}" for k, v in items)]


class Gauge(_Metric):
    kind = "gauge"

    def __init__(self, registry: Registry, name: str, help: str, labels: Sequence[str] = ()) -> None:
        super().__init__(registry, name, help, labels)
        self._values: dict[LabelValues, float] = {}

    def set(self, value: float, *labels: str) -> None:
        self._check(labels)
        with self._lock:
            self._values[labels] = value

    def replace(self, value: float, *labels: str) -> None:
        """Set this label set and drop every other (an info metric whose labels change)."""
        self._check(labels)
        with self._lock:
            self._values = {labels: value}

    def value(self, *labels: str) -> float | None:
        return self._values.get(labels)

    def lines(self) -> list[str]:
        with self._lock:
            items = sorted(self._values.items())
        return [*self.header(), *(f"{self.name}{_labels(self.labels, k)} {_num(v)}" for k, v in items)]


class SampledGauge(_Metric):
    """A gauge read when scraped (an age that grows between events); no sample while ``sample`` is None."""

    kind = "gauge"

    def __init__(self, registry: Registry, name: str, help: str) -> None:
        super().__init__(registry, name, help)
        self.sample: Callable[[], float | None] = lambda: None

    def lines(self) -> list[str]:
        value = self.sample()
        return [*self.header(), *([] if value is None else [f"{self.name} {_num(value)}"])]


class Histogram(_Metric):
    kind = "histogram"

    def __init__(
        self,
        registry: Registry,
        name: str,
        help: str,
        labels: Sequence[str] = (),
        buckets: Sequence[float] = LATENCY_BUCKETS,
    ) -> None:
        super().__init__(registry, name, help, labels)
        self.buckets = tuple(sorted(buckets))
        # per label set: counts per bucket (non-cumulative, +Inf last), sum, count
        self._series: dict[LabelValues, tuple[list[int], list[float]]] = {}

    def observe(self, value: float, *labels: str) -> None:
        self._check(labels)
        with self._lock:
            self._observe(labels, value)

    def observe_many(self, items: Iterable[tuple[LabelValues, float]]) -> None:
        """Several observations under one lock: the per-policy timings of one evaluation."""
        with self._lock:
            for labels, value in items:
                self._observe(labels, value)

    def _observe(self, labels: LabelValues, value: float) -> None:
        # Runs once per policy per admission request (the library has ~60): kept to a dict
        # lookup and a C bisection. bisect_left finds the first bound >= value, the bucket
        # `le` names.
        series = self._series.get(labels)
        if series is None:
            series = self._series[labels] = ([0] * (len(self.buckets) + 1), [0.0, 0.0])
        counts, totals = series
        counts[bisect.bisect_left(self.buckets, value)] += 1
        totals[0] += value
        totals[1] += 1

    def count(self, *labels: str) -> int:
        series = self._series.get(labels)
        return int(series[1][1]) if series else 0

    def lines(self) -> list[str]:
        with self._lock:
            items = sorted((k, (list(c), list(t))) for k, (c, t) in self._series.items())
        out = self.header()
        for key, (counts, (total, count)) in items:
            running = 0
            for bound, n in zip((*self.buckets, math.inf), counts, strict=True):
                running += n
                le = "+Inf" if bound == math.inf else _num(bound)
                out.append(f"{self.name}_bucket{_labels((*self.labels, 'le'), (*key, le))} {running}")
            out.append(f"{self.name}_sum{_labels(self.labels, key)} {_num(total)}")
            out.append(f"{self.name}_count{_labels(self.labels, key)} {_num(count)}")
        return out


class Metrics:
    """Every metric `regie serve` exports (docs/service.md, Metrics)."""

    def __init__(self) -> None:
        r = self.registry = Registry()
        self.decisions = Counter(
            r,
            "regie_admission_decisions_total",
            "Admission decisions by outcome: allowed, warned, denied, skipped (DELETE, CONNECT), "
            "bad_request, fail_open, fail_closed.",
            ["outcome"],
        )
        self.decision_seconds = Histogram(
            r,
            "regie_admission_decision_seconds",
            "Time from a complete AdmissionReview body to its answer, evaluation included.",
        )
        self.deadline_hits = Counter(
            r,
            "regie_admission_deadline_exceeded_total",
            "Admission evaluations that did not finish within --deadline-ms, by failure mode applied.",
            ["mode"],
        )
        self.policy_seconds = Histogram(
            r,
            "regie_policy_evaluation_seconds",
            "Time each policy took per evaluation (admission and /v1/evaluate): find a slow policy here.",
            ["policy"],
            POLICY_BUCKETS,
        )
        self.policy_errors = Counter(
            r,
            "regie_policy_errors_total",
            "Policies that failed while evaluating (a bug in a policy or in Regie).",
            ["policy"],
        )
        self.evaluations = Counter(
            r, "regie_api_evaluations_total", "Evaluations through POST /v1/evaluate, by result.", ["result"]
        )
        self.reloads = Counter(
            r, "regie_policy_reloads_total", "Policy set reload attempts, by result.", ["result"]
        )
        self.reload_failures = Counter(
            r,
            "regie_policy_reload_failures_total",
            "Policy set reloads that failed to load or check; the last good set kept serving.",
        )
        self.policy_set = Gauge(
            r,
            "regie_policy_set_info",
            "The policy set in force (hash of policies, parameters and catalogues); value 1.",
            ["hash"],
        )
        self.policies_loaded = Gauge(r, "regie_policies_loaded", "Number of policies in the set in force.")
        self.loaded_at = Gauge(
            r, "regie_policy_set_loaded_timestamp_seconds", "When the set in force was loaded (Unix time)."
        )
        self.stale = Gauge(
            r,
            "regie_policy_set_stale",
            "1 when the newest policy files failed to load and an older set is serving (fail-static).",
        )
        self.tls_reloads = Counter(
            r,
            "regie_tls_reloads_total",
            "TLS certificate reloads after a file change, by result.",
            ["result"],
        )
        self.record_failures = Counter(
            r,
            "regie_decision_record_failures_total",
            "Admission decisions the decision recorder failed to record.",
        )
        self.auth_failures = Counter(
            r, "regie_auth_failures_total", "Rejected API requests, by HTTP status (401, 403).", ["status"]
        )
        self.namespace_cache_age = SampledGauge(
            r,
            "regie_namespace_cache_age_seconds",
            "Seconds since the namespace labels were last listed (+Inf before the first good list; "
            "no sample with --namespace-labels off).",
        )
        self.namespace_cache_size = Gauge(
            r, "regie_namespace_cache_namespaces", "Namespaces whose labels the webhook holds."
        )
        self.namespace_refreshes = Counter(
            r,
            "regie_namespace_cache_refreshes_total",
            "Namespace label lists, by result; on failure the last good labels stay in use.",
            ["result"],
        )
        self.namespace_lookups = Counter(
            r,
            "regie_namespace_cache_lookups_total",
            "Admission requests by what the namespace cache knew of their namespace: hit, stale "
            "(labels from an old list), missing (namespace not listed yet), empty (nothing listed yet).",
            ["result"],
        )


def _labels(names: Sequence[str], values: Sequence[str]) -> str:
    if not names:
        return ""
    inner = ",".join(f'{n}="{_escape_label(v)}"' for n, v in zip(names, values, strict=True))
    return "{" + inner + "}"


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _num(value: float) -> str:
    if value == math.inf:
        return "+Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))
