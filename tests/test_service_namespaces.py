"""`regie serve --namespace-labels`: ownership labels set on a namespace reach admission decisions.

A local HTTPS API server (real TLS, real sockets) replays the recorded `/api/v1/namespaces`
list of tests/fixtures/kubernetes, and `regie serve` is started as in production, with
`--namespace-labels context:prod` pointing at it through a kubeconfig. Its answers can be
switched to failures to see the cache fail static, and to an empty start.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from test_kubernetes_client import (  # noqa: F401 (certs: a fixture)
    FIXTURES,
    NOT_FOUND,
    TOKEN,
    Certs,
    JsonHandler,
    certs,
    serve_tls,
)
from test_service import READER, auth, tokens_file
from test_service_server import Running, deployment, review, running, wait_for

from regie.replay import replay_record
from regie.service import ServiceOptions
from regie.service.namespaces import NamespaceCache, cluster_loader

#: A deny-level policy about vital workloads and a warn-level one about classified workloads:
#: both are silent unless the facts carry ownership, which these Deployments only get from
#: their namespace's labels.
POLICIES = """\
policy test.vital.replicas {
  title "Vitale workloads draaien redundant"
  title.en "Vital workloads run redundantly"
  source "BIO2 8.14"
  severity high
  enforce deny

  for r in resources
  where r.kind == "kubernetes.workload" and r.vital
  require r.attributes.spec.replicas >= 3
  message "vital workload {r.name} runs {r.attributes.spec.replicas} replicas; at least 3"
}

policy test.classified.owner {
  title "Geclassificeerde workloads hebben een eigenaar"
  title.en "Classified workloads have an owner"
  source "BIO2 5.9"
  severity medium
  enforce warn

  for r in resources
  where r.kind in {"kubernetes.workload", "kubernetes.namespace"} and r.classification != null
  require r.owner != null
  message "{r.name} is classified {r.classification} but names no owner"
}
"""

PAYMENTS_LABELS = {
    "kubernetes.io/metadata.name": "payments",
    "app.kubernetes.io/part-of": "betalingen",
    "regie.dev/classification": "BBN2",
    "regie.dev/vital": "true",
}


@dataclass
class NamespaceApi:
    """Serves the recorded namespace list; `failing` answers that status instead; `extra` adds items."""

    url: str = ""
    failing: int | None = None
    extra: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str | None, str | None]] = field(default_factory=list)

    def body(self) -> bytes:
        recorded = json.loads((FIXTURES / "namespaces.json").read_text(encoding="utf-8"))
        recorded["items"].extend(self.extra)
        return json.dumps(recorded).encode()


@pytest.fixture
def api(certs: Certs) -> Iterator[NamespaceApi]:  # noqa: F811
    state = NamespaceApi()

    class Handler(JsonHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            state.requests.append((path, self.headers.get("Accept"), self.headers.get("Authorization")))
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                status, body = 401, (FIXTURES / "status-401.json").read_bytes()
            elif state.failing is not None:
                status, body = state.failing, (FIXTURES / "status-403.json").read_bytes()
            elif path == "/api/v1/namespaces":
                status, body = 200, state.body()
            else:
                status, body = 404, NOT_FOUND
            self.reply(status, body)

    with serve_tls(Handler, certs) as url:
        state.url = url
        yield state


def kubeconfig(folder: Path, api: NamespaceApi, certs: Certs) -> Path:  # noqa: F811
    ca = base64.b64encode(certs.ca.encode()).decode()
    path = folder / "kubeconfig"
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": api.url, "certificate-authority-data": ca}}],
                "users": [{"name": "u", "user": {"token": TOKEN}}],
                "contexts": [{"name": "prod", "context": {"cluster": "c", "user": "u"}}],
            }
        ),
        encoding="utf-8",
    )
    return path


@pytest.fixture
def serve(
    tmp_path: Path,
    api: NamespaceApi,
    certs: Certs,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Any]:
    """Starts `regie serve --namespace-labels context:prod --namespace-refresh N --store sqlite`."""
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig(tmp_path, api, certs)))
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "test.regie").write_text(POLICIES, encoding="utf-8")
    started: list[Any] = []

    def start(refresh: float = 30.0) -> Running:
        options = ServiceOptions(
            policies=[str(tmp_path / "policies")],
            tokens=str(tokens_file(tmp_path)),
            reload_interval=0,
            store=f"sqlite:///{tmp_path / 'regie.db'}",
            namespace_labels="context:prod",
            namespace_refresh=refresh,
        )
        context = running(options)
        started.append(context)
        return context.__enter__()

    try:
        yield start
    finally:
        for context in reversed(started):
            context.__exit__(None, None, None)


def admit(
    server: Running, obj: dict[str, Any], *, request_namespace: str | None = None, **kwargs: Any
) -> dict[str, Any]:
    sent = review(obj, **kwargs)
    if request_namespace:
        sent["request"]["namespace"] = request_namespace
    answer = httpx.post(
        f"{server.base}/admission",
        content=orjson.dumps(sent),
        headers={"content-type": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    response: dict[str, Any] = answer.json()["response"]
    return response


def ready(server: Running) -> dict[str, Any]:
    answer = httpx.get(f"{server.base}/readyz", timeout=10)
    assert answer.status_code == 200  # the namespace cache never makes the webhook unready
    body: dict[str, Any] = answer.json()
    return body


def metric(server: Running, line: str) -> float | None:
    text = httpx.get(f"{server.base}/metrics", headers=auth(READER), timeout=10).text
    for row in text.splitlines():
        if row.startswith(line + " "):
            return float(row.rsplit(" ", 1)[1])
    return None


def records(server: Running) -> list[Any]:
    store = server.service.store
    assert store is not None
    server.service.recorder.close()  # flush: recording happens off the request path
    out: list[Any] = []
    while (record := store.get_record(len(out) + 1, with_input=True)) is not None:
        out.append(record)
    return out


# --- decisions with the namespace's labels ---------------------------------------------------------


def test_a_deployment_without_labels_is_decided_with_its_namespace_labels(
    serve: Any, api: NamespaceApi
) -> None:
    server = serve()
    # payments is labelled vital and BBN2 on the namespace only; the Deployment carries nothing
    answer = admit(server, deployment("api", namespace="payments"))
    assert answer["allowed"] is False
    message = answer["status"]["message"]
    assert "test.vital.replicas" in message and "vital workload api runs 2 replicas" in message
    assert answer["warnings"] == [
        "Regie test.classified.owner: api is classified BBN2 but names no owner (source: BIO2 5.9)"
    ]
    # the same object in an unlabelled namespace: nothing applies
    assert admit(server, deployment("api", namespace="default"), uid="u-2") == {"uid": "u-2", "allowed": True}
    # a label on the object wins over its namespace's
    own = deployment(
        "api", namespace="payments", labels={"regie.dev/vital": "false", "regie.dev/owner": "team-b"}
    )
    assert admit(server, own, uid="u-3") == {"uid": "u-3", "allowed": True}
    # only metadata was asked for, with the kubeconfig's credentials
    path, accept, authorization = api.requests[0]
    assert path == "/api/v1/namespaces" and "as=PartialObjectMetadataList" in (accept or "")
    assert authorization == f"Bearer {TOKEN}"
    status = ready(server)["namespace_labels"]
    assert status["source"] == "context:prod" and status["namespaces"] == 2 and not status["stale"]
    assert metric(server, 'regie_namespace_cache_lookups_total{result="hit"}') == 3
    assert metric(server, "regie_namespace_cache_namespaces") == 2
    age = metric(server, "regie_namespace_cache_age_seconds")
    assert age is not None and 0 <= age < 30


def test_the_recorded_decision_carries_the_namespace_labels_and_replays_the_same(serve: Any) -> None:
    server = serve()
    assert admit(server, deployment("api", namespace="payments"))["allowed"] is False
    [record] = records(server)
    assert record.input["namespace_labels"] == {"payments": PAYMENTS_LABELS}
    assert record.decision["allowed"] is False
    snapshot = server.service.holder.current
    assert server.service.store is not None
    replayed = replay_record(server.service.store, record.id, snapshot.policy_set, snapshot.catalogs)
    # without the recorded labels the Deployment would not be vital and would be allowed now
    assert replayed.same and replayed.allowed == (False, False)


def test_a_namespace_being_admitted_uses_its_own_labels(serve: Any) -> None:
    server = serve()
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": "payments",
            "labels": {"regie.dev/classification": "BBN1", "regie.dev/owner": "x"},
        },
    }
    # the API server sends a Namespace's own name as the request's namespace
    sent = copy.deepcopy(namespace)
    answer = admit(server, sent, operation="UPDATE", old=namespace, request_namespace="payments")
    assert answer["allowed"] is True and "warnings" not in answer
    unowned = {**namespace, "metadata": {"name": "payments", "labels": {"regie.dev/classification": "BBN3"}}}
    answer = admit(
        server, unowned, operation="UPDATE", old=namespace, uid="u-2", request_namespace="payments"
    )
    # BBN3 from the object, not BBN2 from the cache
    assert answer["warnings"] == [
        "Regie test.classified.owner: payments is classified BBN3 but names no owner (source: BIO2 5.9)"
    ]
    assert [r.input["namespace_labels"] for r in records(server)] == [{}, {}]


# --- the cache failing, empty, and catching up ------------------------------------------------------


def test_a_failed_refresh_keeps_the_last_good_labels(serve: Any, api: NamespaceApi) -> None:
    server = serve(refresh=1)
    assert admit(server, deployment("api"))["allowed"] is False
    api.failing = 403
    assert wait_for(lambda: metric(server, 'regie_namespace_cache_refreshes_total{result="failure"}'), 10)
    status = ready(server)["namespace_labels"]
    assert status["namespaces"] == 2 and status["last_refresh"]["ok"] is False
    assert "403 Forbidden" in status["last_refresh"]["error"]
    assert admit(server, deployment("api"), uid="u-2")["allowed"] is False  # the last good labels
    # three refresh intervals without a good list: flagged stale, still used
    assert wait_for(lambda: ready(server)["namespace_labels"]["stale"], 10)
    assert admit(server, deployment("api"), uid="u-3")["allowed"] is False
    assert metric(server, 'regie_namespace_cache_lookups_total{result="stale"}') == 1
    api.failing = None
    assert wait_for(lambda: not ready(server)["namespace_labels"]["stale"], 10)
    assert ready(server)["namespace_labels"]["last_refresh"]["ok"] is True


def test_an_empty_cache_still_decides(serve: Any, api: NamespaceApi) -> None:
    api.failing = 403
    server = serve(refresh=1)
    body = ready(server)
    assert body["ready"] is True
    assert body["namespace_labels"]["loaded_at"] is None and body["namespace_labels"]["namespaces"] == 0
    assert metric(server, "regie_namespace_cache_age_seconds") == float("inf")
    # decided at once, without the namespace's labels: not known to be vital
    assert admit(server, deployment("api")) == {
        "uid": review(deployment())["request"]["uid"],
        "allowed": True,
    }
    assert metric(server, 'regie_namespace_cache_lookups_total{result="empty"}') == 1
    [record] = records(server)
    assert record.input["namespace_labels"] == {}  # what the decision used: nothing
    api.failing = None
    assert wait_for(lambda: ready(server)["namespace_labels"]["namespaces"] == 2, 10)
    assert admit(server, deployment("api"), uid="u-2")["allowed"] is False


def test_a_namespace_not_listed_yet_brings_the_next_list_forward(serve: Any, api: NamespaceApi) -> None:
    server = serve(refresh=300)  # only the miss can bring a list before the test times out
    lists = len(api.requests)
    api.extra.append({"metadata": {"name": "new-team", "labels": {"regie.dev/vital": "true"}}})
    assert admit(server, deployment("api", namespace="new-team"))["allowed"] is True
    assert metric(server, 'regie_namespace_cache_lookups_total{result="missing"}') == 1
    assert wait_for(lambda: len(api.requests) > lists, 10)
    assert wait_for(lambda: ready(server)["namespace_labels"]["namespaces"] == 3, 10)
    assert admit(server, deployment("api", namespace="new-team"), uid="u-2")["allowed"] is False


# --- credentials ------------------------------------------------------------------------------------


def test_in_cluster_credentials_are_read_again_after_a_failure(
    tmp_path: Path,
    api: NamespaceApi,
    certs: Certs,  # noqa: F811
) -> None:
    """The kubelet rotates the projected token: a refused token is not kept."""
    (tmp_path / "token").write_text("an-expired-token\n")
    (tmp_path / "ca.crt").write_text(certs.ca)
    env = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": api.url.rsplit(":", 1)[1]}
    outcomes: list[tuple[bool, int]] = []
    cache = NamespaceCache(
        "in-cluster",
        cluster_loader("in-cluster", env, root=tmp_path),
        refresh=30,
        on_refresh=lambda ok, n: outcomes.append((ok, n)),
    )
    try:
        assert cache.refresh() is False
        assert "401 Unauthorized" in cache.status()["last_refresh"]["error"]
        (tmp_path / "token").write_text(TOKEN + "\n")
        assert cache.refresh() is True
        assert outcomes == [(False, 0), (True, 2)]
        request = review(deployment())["request"]
        found = cache.lookup(request)
        assert found.result == "hit" and found.labels == {"payments": PAYMENTS_LABELS}
    finally:
        cache.stop()


def test_bad_options_are_refused() -> None:
    options = ServiceOptions(policies=[], namespace_labels="kubeconfig", namespace_refresh=0)
    assert options.problems() == [
        "--namespace-labels: expected in-cluster, context:NAME or off, got 'kubeconfig'",
        "--namespace-refresh: expected 1 to 3600 seconds, got 0",
    ]
