"""Running `regie serve` in-process on a loopback port, for the service tests (imported by test_service*.py).

The server is the real one (uvicorn, the app, the policy watcher, TLS when given) on
port 0; tests talk to it over real sockets with httpx.
"""

from __future__ import annotations

import asyncio
import copy
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from regie.service import ServiceOptions, build_server
from regie.service.recorder import DecisionRecorder
from regie.service.runtime import Service
from regie.service.server import serve_async

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("REGIE_CORPUS", ROOT.parent / "shared" / "corpus")) / "admission-review"

#: Policies for the webhook tests: deny, warn and advisory at admission, over Kubernetes facts.
POLICIES = """\
policy test.images.eu_registry {
  title "Images uit een registry onder EU-jurisdictie"
  title.en "Images from a registry under EU jurisdiction"
  source "CSBN 2025, risk 1 (extraterritorial law)"
  requirement "CLOUD-01"
  severity high
  enforce warn
  enforce.admission deny

  for r in resources
  where r.kind == "container.image"
  require r.attributes.jurisdiction in eu
  message "image {r.name} comes from a registry under {r.attributes.jurisdiction ?? "unknown"} law"
}

policy test.images.digest {
  title "Images vastgepind op digest"
  source "BIO2 8.19"
  severity medium
  enforce warn

  for r in resources
  where r.kind == "container.image"
  require r.attributes.digest != null
  message "image {r.name} is not pinned by digest"
}

policy test.workloads.owner {
  title "Workloads hebben een eigenaar"
  source "BIO2 5.9"
  severity medium
  enforce warn

  for r in resources
  where r.kind == "kubernetes.workload"
  require r.owner != null
  message "workload {r.name} names no owner (label regie.dev/owner)"
}

policy test.workloads.service {
  title "Workloads horen bij een dienst"
  source "BIO2 5.9"
  severity low
  enforce advisory

  param label: str = "app.kubernetes.io/part-of"

  for r in resources
  where r.kind == "kubernetes.workload"
  require r.service != null
  message "workload {r.name} is part of no service"
}
"""

#: Quadratic in the number of images: slow by construction for a Deployment with thousands.
SLOW_POLICY = """\
policy test.slow.pairs {
  title "Traag"
  source "test"
  severity low
  enforce warn

  for r in resources
  where r.kind == "container.image"
  require count(x in resources: x.name == r.name) < 1000000
  message "never"
}
"""

EU_IMAGE = "rg.nl-ams.scw.cloud/ministry/api@sha256:" + "a" * 64


def write_policies(folder: Path, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "test.regie").write_text(POLICIES, encoding="utf-8")
    if extra:
        (folder / "extra.regie").write_text(extra, encoding="utf-8")
    return folder


def deployment(
    name: str = "api",
    images: list[str] | None = None,
    labels: dict[str, str] | None = None,
    namespace: str = "payments",
) -> dict[str, Any]:
    containers = [{"name": f"c{i}", "image": image} for i, image in enumerate(images or [EU_IMAGE])]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": containers}},
        },
    }


def review(
    obj: dict[str, Any],
    *,
    operation: str = "CREATE",
    uid: str = "3f1d6c1e-5a7b-4c1e-9d2a-000000000001",
    dry_run: bool = False,
    old: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An AdmissionReview as the API server sends it for ``obj``."""
    group, _, version = obj["apiVersion"].rpartition("/")
    meta = obj["metadata"]
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": group, "version": version, "kind": obj["kind"]},
            "resource": {"group": group, "version": version, "resource": obj["kind"].lower() + "s"},
            "requestKind": {"group": group, "version": version, "kind": obj["kind"]},
            "requestResource": {"group": group, "version": version, "resource": obj["kind"].lower() + "s"},
            "name": meta["name"],
            "namespace": meta.get("namespace"),
            "operation": operation,
            "userInfo": {"username": "system:serviceaccount:ci:deployer", "groups": ["system:authenticated"]},
            "object": None if operation == "DELETE" else obj,
            "oldObject": old if operation in ("UPDATE", "DELETE") else None,
            "dryRun": dry_run,
            "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"},
        },
    }


def corpus_review(name: str) -> dict[str, Any]:
    """A corpus file as a full AdmissionReview (bare AdmissionRequests get the envelope)."""
    data = orjson.loads((CORPUS / name).read_bytes())
    if data.get("kind") == "AdmissionReview":
        return dict(data)
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": copy.deepcopy(data)}


class Recorder:
    """A DecisionRecorder that keeps what it is given."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, Any], bool, list[Any], str]] = []

    def record_admission(
        self,
        review_request: dict[str, Any],
        allowed: bool,
        violations: list[Any],
        policy_set_hash: str,
        namespace_labels: Any = None,
    ) -> None:
        self.calls.append((review_request, allowed, violations, policy_set_hash))


@dataclass
class Running:
    service: Service
    base: str
    port: int


@contextmanager
def running(options: ServiceOptions, recorder: DecisionRecorder | None = None) -> Iterator[Running]:
    options.port = 0
    options.host = "127.0.0.1"
    service, server = build_server(options, recorder)
    thread = threading.Thread(target=lambda: asyncio.run(serve_async(service, server)), daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("regie serve did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    scheme = "https" if service.tls else "http"
    try:
        yield Running(service, f"{scheme}://127.0.0.1:{port}", port)
    finally:
        server.should_exit = True
        thread.join(15)
        service.close()


def wait_for(predicate: Any, timeout: float = 10.0, interval: float = 0.05) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
