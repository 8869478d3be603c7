"""Namespace labels for the admission webhook (``regie serve --namespace-labels``).

Teams usually put ownership labels (``app.kubernetes.io/part-of``,
``regie.dev/classification``, ``regie.dev/vital``, ``regie.dev/exit-plan``,
``regie.dev/owner``) on their namespace rather than on every object (design.md, "The
fact model"). An AdmissionReview carries the object only, so the webhook keeps the
labels of every namespace in memory: a background thread lists ``/api/v1/namespaces``
every ``--namespace-refresh`` seconds and keeps ``{namespace: labels}``, nothing else.

A decision never waits for this cache. Before the first list succeeds the webhook
decides without namespace labels; when a list fails the last good map stays in use
(fail-static) and is flagged stale once it is older than :data:`STALE_AFTER_REFRESHES`
refresh intervals. Both show in ``/readyz``, in the metrics and in the log.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx

from regie.connectors.base import ConnectorError
from regie.connectors.kubernetes.client import list_objects, make_client
from regie.connectors.kubernetes.kubeconfig import (
    SERVICE_ACCOUNT_ROOT,
    ClusterConfig,
    in_cluster_config,
    load_kubeconfig,
)

__all__ = [
    "LIST_TIMEOUT",
    "RECONNECT_AFTER",
    "STALE_AFTER_REFRESHES",
    "LookupResult",
    "NamespaceCache",
    "NamespaceLookup",
    "cluster_loader",
    "namespace_of",
    "source_problem",
]

log = logging.getLogger("regie.service.namespaces")

#: The cache counts as stale once its newest good list is this many refresh intervals old:
#: one failed list is a blip, three in a row are an outage someone should look at.
STALE_AFTER_REFRESHES = 3
#: Seconds a list may take; namespaces are few and small, so this only bounds an outage.
LIST_TIMEOUT = 10.0
#: Credentials are loaded again this often (and after every failure): the kubelet rotates a
#: pod's projected service account token well before it expires (about an hour by default),
#: and an exec plugin hands out short-lived tokens too.
RECONNECT_AFTER = 300.0
#: A namespace the cache does not know (created since the last list) brings the next list
#: forward, but never more often than this: a burst of such requests is one list.
MIN_REFRESH_GAP = 1.0
#: How long `regie serve` waits at start for the first list, so that a new replica usually
#: has the labels before it turns ready; a failure or a slow API server only delays start-up.
FIRST_LIST_WAIT = 5.0

# Ask for metadata only (PartialObjectMetadataList, GA since Kubernetes 1.15): the labels are
# all we keep. A server that does not offer it answers the plain list, which is read the same way.
_ACCEPT = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
_PATH = "/api/v1/namespaces"

LookupResult = Literal["off", "none", "hit", "stale", "missing", "empty"]


def source_problem(value: str) -> str | None:
    """What is wrong with a ``--namespace-labels`` value, or None."""
    if value in ("off", "in-cluster"):
        return None
    if value.startswith("context:") and value.removeprefix("context:"):
        return None
    return f"--namespace-labels: expected in-cluster, context:NAME or off, got {value!r}"


def cluster_loader(
    source: str, env: Mapping[str, str], *, root: Path = SERVICE_ACCOUNT_ROOT
) -> Callable[[], ClusterConfig]:
    """How to (re)load the cluster and credentials for ``in-cluster`` or ``context:NAME``."""
    if source == "in-cluster":
        return lambda: in_cluster_config(env, root)
    context = source.removeprefix("context:")
    return lambda: load_kubeconfig(context, env, timeout=LIST_TIMEOUT)


def namespace_of(request: Mapping[str, Any]) -> str | None:
    """The namespace whose labels apply to the request's object; None for a Namespace itself
    (its own labels are in the request) and for cluster-scoped objects."""
    gvk = request.get("kind")
    if isinstance(gvk, Mapping) and gvk.get("kind") == "Namespace" and not gvk.get("group"):
        return None
    namespace = request.get("namespace")
    if isinstance(namespace, str) and namespace:
        return namespace
    for field in ("object", "oldObject"):
        obj = request.get(field)
        meta = obj.get("metadata") if isinstance(obj, Mapping) else None
        ns = meta.get("namespace") if isinstance(meta, Mapping) else None
        if isinstance(ns, str) and ns:
            return ns
    return None


@dataclass(frozen=True, slots=True)
class NamespaceLookup:
    """The namespace labels one decision uses (``{namespace: labels}``, for the connector and
    the recorder), and how the cache could answer (logged and counted)."""

    labels: dict[str, dict[str, str]] | None
    result: LookupResult


_OFF = NamespaceLookup(None, "off")
_NONE = NamespaceLookup(None, "none")


class NamespaceCache:
    """``{namespace: labels}`` of one cluster, listed by a background thread.

    ``on_refresh(ok, namespaces)`` is called after every list attempt (metrics).
    """

    def __init__(
        self,
        source: str,
        load: Callable[[], ClusterConfig],
        *,
        refresh: float,
        on_refresh: Callable[[bool, int], None] | None = None,
    ) -> None:
        self.source = source
        self.refresh_seconds = refresh
        self._load = load
        self._on_refresh = on_refresh or (lambda ok, n: None)
        # Replaced whole on every good list, never changed in place: a reader takes the
        # reference once and sees one consistent map without a lock.
        self._labels: dict[str, dict[str, str]] = {}
        self._loaded_mono: float | None = None
        self._loaded_at: dt.datetime | None = None
        self._client: httpx.Client | None = None
        self._connected_mono = 0.0
        self._lock = threading.Lock()
        self._attempt_mono = 0.0
        self._attempted_at: dt.datetime | None = None
        self._attempts = 0
        self._failures = 0
        self._last_error: str | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._first = threading.Event()
        self._thread: threading.Thread | None = None

    # --- reading (request path) ------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        return self._loaded_mono is not None

    def age(self) -> float | None:
        """Seconds since the newest good list; None before the first."""
        loaded = self._loaded_mono
        return None if loaded is None else time.monotonic() - loaded

    @property
    def stale(self) -> bool:
        age = self.age()
        return age is not None and age > STALE_AFTER_REFRESHES * self.refresh_seconds

    def lookup(self, request: Mapping[str, Any]) -> NamespaceLookup:
        """The labels for ``request``'s namespace from the map in hand; never waits."""
        namespace = namespace_of(request)
        if namespace is None:
            return _NONE
        if not self.loaded:
            return NamespaceLookup(None, "empty")
        labels = self._labels.get(namespace)
        if labels is None:
            # Typically a namespace created moments ago (`kubectl apply` of a namespace and
            # its workloads): list again soon so that the next request finds it.
            self._wake.set()
            return NamespaceLookup(None, "missing")
        return NamespaceLookup({namespace: labels}, "stale" if self.stale else "hit")

    def status(self) -> dict[str, Any]:
        """For ``/readyz``: what the cache holds and how its last list went."""
        age = self.age()
        with self._lock:
            return {
                "source": self.source,
                "namespaces": len(self._labels),
                "loaded_at": self._loaded_at.isoformat() if self._loaded_at else None,
                "age_seconds": round(age, 3) if age is not None else None,
                "refresh_seconds": self.refresh_seconds,
                "stale": self.stale,
                "last_refresh": {
                    "ok": self._attempts > 0 and self._last_error is None,
                    "at": self._attempted_at.isoformat() if self._attempted_at else None,
                    "error": self._last_error,
                    "attempts": self._attempts,
                    "failures": self._failures,
                },
            }

    # --- listing (background thread) -------------------------------------------------------

    def start(self, wait: float = FIRST_LIST_WAIT) -> None:
        """Start listing; wait up to ``wait`` seconds for the first attempt to finish."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="regie-namespaces", daemon=True)
        self._thread.start()
        self._first.wait(wait)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._disconnect()

    def refresh(self) -> bool:
        """List the namespaces once; on failure keep the last good map. True when it worked."""
        with self._lock:
            self._attempt_mono = time.monotonic()
            self._attempted_at = dt.datetime.now(dt.UTC)
            self._attempts += 1
        try:
            items = list_objects(self._connect(), _PATH, "v1", "Namespace", where=f"k8s:{self.source}")
        except Exception as err:  # any failure: the last good map keeps serving (fail-static)
            self._disconnect()  # the next attempt loads the credentials again
            if isinstance(err, ConnectorError):
                message = f"{err.where}: {err.message}"
            else:
                message = f"{type(err).__name__}: {err}"
                log.exception("namespace label refresh failed unexpectedly")
            with self._lock:
                self._failures += 1
                self._last_error = message
            log.warning(
                "namespace label refresh failed; the last good labels stay in use",
                extra={
                    "source": self.source,
                    "error": message,
                    "namespaces": len(self._labels),
                    "age_seconds": self.age(),
                },
            )
            self._on_refresh(False, len(self._labels))
            return False
        labels = {name: ls for name, ls in (_name_and_labels(item) for item in items) if name}
        with self._lock:
            self._labels = labels
            self._loaded_mono = time.monotonic()
            self._loaded_at = dt.datetime.now(dt.UTC)
            recovered = self._last_error is not None
            self._last_error = None
        if recovered:
            log.info("namespace label refresh works again", extra={"namespaces": len(labels)})
        self._on_refresh(True, len(labels))
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            self.refresh()
            self._first.set()
            self._wake.wait(self.refresh_seconds)
            self._wake.clear()
            gap = MIN_REFRESH_GAP - (time.monotonic() - self._attempt_mono)
            if gap > 0:
                self._stop.wait(gap)

    def _connect(self) -> httpx.Client:
        now = time.monotonic()
        if self._client is not None and now - self._connected_mono > RECONNECT_AFTER:
            self._disconnect()
        if self._client is None:
            client = make_client(self._load(), LIST_TIMEOUT)
            client.headers["Accept"] = _ACCEPT
            self._client, self._connected_mono = client, now
        return self._client

    def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()


def _name_and_labels(item: Mapping[str, Any]) -> tuple[str | None, dict[str, str]]:
    meta = item.get("metadata")
    if not isinstance(meta, Mapping) or not isinstance(meta.get("name"), str):
        return None, {}
    labels = meta.get("labels")
    if not isinstance(labels, Mapping):
        return meta["name"], {}
    return meta["name"], {str(k): str(v) for k, v in labels.items() if isinstance(v, str)}
