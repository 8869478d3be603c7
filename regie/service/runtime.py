"""The running service: its options, the policy set in force, tokens, metrics, recorder.

One :class:`Service` per process; the FastAPI app (app.py) and the server (server.py)
are built around it. Tests build one directly and serve its app over a real socket.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from regie.service.auth import TokenStore
from regie.service.deadline import Evaluator
from regie.service.metrics import Metrics
from regie.service.namespaces import NamespaceCache, cluster_loader, source_problem
from regie.service.recorder import BackgroundRecorder, DecisionRecorder, NullRecorder
from regie.service.reload import PolicyHolder, PolicySnapshot
from regie.service.tls import ReloadingTLS

if TYPE_CHECKING:
    from regie.store.api import Store

__all__ = ["DEFAULT_MAX_BODY", "Service", "ServiceOptions"]

log = logging.getLogger("regie.service")

#: An AdmissionReview carries the object and, on UPDATE, the old object; the API server
#: accepts request bodies up to 3 MiB (etcd stores at most 1.5 MiB), so twice that.
DEFAULT_MAX_BODY = 6 * 1024 * 1024

FailureMode = Literal["open", "closed"]


@dataclass(slots=True)
class ServiceOptions:
    """Everything `regie serve` is told on its command line."""

    policies: Sequence[str]
    catalogs: Sequence[str] = ()
    config: str | None = None
    host: str = "127.0.0.1"
    port: int = 8443
    tls_cert: str | None = None
    tls_key: str | None = None
    client_ca: str | None = None
    tokens: str | None = None
    deadline_ms: int = 2000
    failure_mode: FailureMode = "closed"
    max_body: int = DEFAULT_MAX_BODY
    reload_interval: float = 2.0
    #: Seconds a client may take to send its request body (a stalled client gets 408).
    read_timeout: float = 10.0
    workers: int = 4
    #: The violation store's URL (`--store`): admission decisions are recorded there, and the
    #: violation API, feed and web page read it.
    store: str | None = None
    #: Where namespace labels come from (`--namespace-labels`): ``in-cluster``,
    #: ``context:NAME`` or ``off``; they supply ownership labels the object does not carry.
    namespace_labels: str = "off"
    #: Seconds between namespace lists (`--namespace-refresh`).
    namespace_refresh: float = 30.0
    extra: dict[str, str] = field(default_factory=dict)

    def problems(self) -> list[str]:
        """What is wrong with these options, each naming the option."""
        out = []
        if (self.tls_cert is None) != (self.tls_key is None):
            out.append("--tls-cert and --tls-key: give both, or neither")
        if self.client_ca and not self.tls_cert:
            out.append("--client-ca: needs --tls-cert and --tls-key (mTLS is a TLS feature)")
        if not 1 <= self.deadline_ms <= 29_000:
            out.append(
                f"--deadline-ms: expected 1 to 29000 (below the webhook's timeoutSeconds, at most 30 s), "
                f"got {self.deadline_ms}"
            )
        if self.failure_mode not in ("open", "closed"):
            out.append(f"--failure-mode: expected open or closed, got {self.failure_mode!r}")
        if self.max_body < 1024:
            out.append(f"--max-body: expected at least 1024 bytes, got {self.max_body}")
        if self.reload_interval < 0:
            out.append(f"--reload-interval: expected seconds >= 0, got {self.reload_interval}")
        if not 0 < self.port < 65536 and self.port != 0:
            out.append(f"--port: expected 1 to 65535, got {self.port}")
        problem = source_problem(self.namespace_labels)
        if problem:
            out.append(problem)
        if not 1 <= self.namespace_refresh <= 3600:
            out.append(f"--namespace-refresh: expected 1 to 3600 seconds, got {self.namespace_refresh:g}")
        return out


class Service:
    def __init__(self, options: ServiceOptions, recorder: DecisionRecorder | None = None) -> None:
        self.options = options
        self.metrics = Metrics()
        self.holder = PolicyHolder(
            list(options.policies),
            list(options.catalogs),
            options.config,
            on_loaded=self._loaded,
            on_failed=self._failed,
        )
        self.tokens = TokenStore(options.tokens)
        self.store: Store | None = None
        if options.store:
            from regie.service.storage import StoreRecorder
            from regie.store.api import open_store

            self.store = open_store(options.store)  # StoreError: a bad URL or an unreachable server
            recorder = recorder or StoreRecorder(self.store)
        self.recorder = BackgroundRecorder(recorder or NullRecorder(), self.metrics.record_failures.inc)
        self.evaluator = Evaluator(options.workers)
        self.tls: ReloadingTLS | None = None
        self.namespaces: NamespaceCache | None = None
        if options.namespace_labels != "off":
            self.namespaces = NamespaceCache(
                options.namespace_labels,
                cluster_loader(options.namespace_labels, os.environ),
                refresh=options.namespace_refresh,
                on_refresh=self._namespaces_listed,
            )
            self.metrics.namespace_cache_age.sample = self._namespace_cache_age
        self.started = time.time()

    @property
    def fail_closed(self) -> bool:
        return self.options.failure_mode == "closed"

    @property
    def deadline(self) -> float:
        return self.options.deadline_ms / 1000.0

    def start(self) -> PolicySnapshot:
        """Load the policy set (LoadError when it does not load) and start watching its files."""
        snapshot = self.holder.load()
        self.holder.start_watching(self.options.reload_interval)
        if self.namespaces is not None:
            self.namespaces.start()
        return snapshot

    def close(self) -> None:
        self.holder.stop()
        if self.namespaces is not None:
            self.namespaces.stop()
        self.recorder.close()
        self.evaluator.shutdown()
        if self.store is not None:
            self.store.close()

    def _loaded(self, snapshot: PolicySnapshot) -> None:
        m = self.metrics
        m.reloads.inc("success")
        m.policy_set.replace(1, snapshot.hash)
        m.policies_loaded.set(len(snapshot.policy_set.policies))
        m.loaded_at.set(snapshot.loaded_at.timestamp())
        m.stale.set(0)

    def _namespaces_listed(self, ok: bool, namespaces: int) -> None:
        self.metrics.namespace_refreshes.inc("success" if ok else "failure")
        self.metrics.namespace_cache_size.set(namespaces)

    def _namespace_cache_age(self) -> float:
        age = self.namespaces.age() if self.namespaces is not None else None
        return math.inf if age is None else age

    def _failed(self, problems: Sequence[str]) -> None:
        m = self.metrics
        m.reloads.inc("failure")
        m.reload_failures.inc()
        m.stale.set(1 if self.holder.loaded else 0)
