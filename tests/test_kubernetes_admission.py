"""AdmissionReview v1 requests, against every file in shared/corpus/admission-review."""
# ruff: noqa: E501

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from regie.connectors.base import REDACTED, ConnectorError, PullContext
from regie.connectors.kubernetes import pull_admission, resources_from_admission
from regie.loading import load_catalogs

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("REGIE_CORPUS", ROOT.parent / "shared" / "corpus")) / "admission-review"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="corpus not found")
CATALOGS = load_catalogs()
CTX = PullContext(catalogs=CATALOGS, env={})

#: file → (action, type, id tail) of the main resource; every file in the corpus loads.
EXPECTED: dict[str, tuple[str, str, str]] = {
    "k8tz_create-cronjob.admissionreview.json": ("create", "batch/v1/CronJob", "batch/v1/CronJob/default/hello"),
    "k8tz_create-namespace.admissionreview.json": ("create", "v1/Namespace", "v1/Namespace/_/k8tz"),
    "k8tz_create-pod.admissionreview.json": ("create", "v1/Pod", "v1/Pod/default/elasticsearch-master-0"),
    "kubewarden_create-cronjob.request.json": ("create", "batch/v1/CronJob", "batch/v1/CronJob/default/hello"),
    "kubewarden_create-deployment-capabilities.request.json": ("create", "apps/v1/Deployment", "apps/v1/Deployment/default/nginx"),
    "kubewarden_create-job.request.json": ("create", "batch/v1/Job", "batch/v1/Job/_/nginx"),
    "kubewarden_create-namespace.request.json": ("create", "v1/Namespace", "v1/Namespace/_/test"),
    "kubewarden_create-pod-privesc-disabled.request.json": ("create", "v1/Pod", "v1/Pod/default/nginx"),
    "kubewarden_delete-deployment.request.json": ("delete", "apps/v1/Deployment", "apps/v1/Deployment/default/nginx"),
    "kubewarden_delete-pod.request.json": ("delete", "v1/Pod", "v1/Pod/default/nginx"),
    "kubewarden_deployment.admissionreview.json": ("create", "apps/v1/Deployment", "apps/v1/Deployment/default/nginx"),
    "kubewarden_pod-flexvolume.admissionreview.json": ("create", "v1/Pod", "v1/Pod/_/flexvolume-test"),
    "kubewarden_pod-hostpaths.request.json": ("create", "v1/Pod", "v1/Pod/default/busybox"),
    "kubewarden_update-deployment-oldobject.request.json": ("update", "apps/v1/Deployment", "apps/v1/Deployment/default/nginx"),
}  # fmt: skip


@needs_corpus
def test_every_corpus_file_is_listed() -> None:
    assert {p.name for p in CORPUS.iterdir()} == set(EXPECTED)


@needs_corpus
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file_loads(name: str) -> None:
    action, type_, tail = EXPECTED[name]
    resources = pull_admission(str(CORPUS / name), CTX)
    main = resources[0]
    assert (main.action, main.type, main.id) == (action, type_, f"k8s:admission/{tail}")
    assert all(r.action == action for r in resources)
    assert main.attributes["_request"]["operation"] == action.upper()


@needs_corpus
def test_update_keeps_the_old_object() -> None:
    [main, *rest] = pull_admission(str(CORPUS / "kubewarden_update-deployment-oldobject.request.json"), CTX)
    assert main.attributes["_old_object"]["kind"] == "Deployment"
    assert main.attributes["_old_object"]["metadata"]["name"] == "nginx"
    assert all(r.kind == "container.image" for r in rest)


@needs_corpus
def test_job_without_kind_gets_it_from_the_request() -> None:
    resources = pull_admission(str(CORPUS / "kubewarden_create-job.request.json"), CTX)
    image = next(r for r in resources if r.kind == "container.image")
    assert image.attributes["registry"] == "ghcr.io" and image.provider == "ghcr.io"


def review(request: dict[str, Any], version: str = "admission.k8s.io/v1") -> dict[str, Any]:
    return {"apiVersion": version, "kind": "AdmissionReview", "request": request}


POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
       "spec": {"containers": [{"name": "c", "image": "nginx", "env": [{"name": "API_TOKEN", "value": "tok-1"}]}]}}  # fmt: skip


def test_namespace_labels_from_a_cache() -> None:
    data = review({"uid": "u", "operation": "CREATE", "namespace": "pay", "kind": {"version": "v1", "kind": "Pod"},
                   "object": POD})  # fmt: skip
    labels = {"pay": {"app.kubernetes.io/part-of": "betalingen", "regie.dev/vital": "true"}}
    resources = resources_from_admission(data, where="req", catalogs=CATALOGS, namespace_labels=labels)
    assert resources[0].id == "k8s:admission/v1/Pod/pay/p"
    assert (resources[0].service, resources[0].vital) == ("betalingen", True)
    assert resources[1].service == "betalingen"
    assert "tok-1" not in json.dumps([r.to_dict() for r in resources])
    assert resources[0].attributes["spec"]["containers"][0]["env"][0]["value"] == REDACTED


def test_update_old_object_is_redacted() -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "n"},
        "data": {"k": "b2xk"},
    }
    new = dict(secret, data={"k": "bmV3"})
    data = review({"uid": "u", "operation": "UPDATE", "object": new, "oldObject": secret})
    dumped = json.dumps([r.to_dict() for r in resources_from_admission(data, where="r", catalogs=CATALOGS)])
    assert "b2xk" not in dumped and "bmV3" not in dumped


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (review({"uid": "u", "operation": "CREATE", "object": POD}, "admission.k8s.io/v1beta1"), "v1beta1.*not supported"),
        ({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": {"uid": "u", "allowed": True}}, "without a request"),
        (review({"uid": "u", "operation": "PATCH", "object": POD}), "expected one of CREATE, UPDATE, DELETE, CONNECT"),
        (review({"uid": "u", "operation": "DELETE", "object": POD}), "a DELETE request needs `oldObject`"),
        (review({"uid": "u", "operation": "CREATE", "object": {"metadata": {"name": "x"}}}), "no `apiVersion`"),
        ({"apiVersion": "v1", "kind": "Pod"}, "neither an AdmissionReview"),
        ([1, 2], "expected an AdmissionReview"),
    ],
)  # fmt: skip
def test_refused_with_a_clear_error(data: Any, message: str) -> None:
    with pytest.raises(ConnectorError, match=message):
        resources_from_admission(data, where="req.json", catalogs=CATALOGS)


def test_connect_gives_no_facts() -> None:
    data = review({"uid": "u", "operation": "CONNECT", "object": {"kind": "PodExecOptions"}})
    assert resources_from_admission(data, where="r", catalogs=CATALOGS) == []


def test_bad_files(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{\n  nope")
    with pytest.raises(ConnectorError, match=r"bad\.json:2: not valid JSON"):
        pull_admission(str(tmp_path / "bad.json"), CTX)
    with pytest.raises(ConnectorError, match="no such file"):
        pull_admission(str(tmp_path / "missing.json"), CTX)


def test_an_owned_review_is_redacted_without_a_copy_and_a_borrowed_one_is_left_alone() -> None:
    import copy

    from regie.connectors.kubernetes.admission import resources_from_admission
    from regie.loading import load_catalogs

    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "app"},
              "data": {"password": "aHVudGVyMg=="}}  # fmt: skip
    review = {"uid": "u1", "operation": "CREATE", "kind": {"group": "", "version": "v1", "kind": "Secret"},
              "namespace": "app", "name": "db", "object": secret}  # fmt: skip
    borrowed = copy.deepcopy(review)
    [r] = resources_from_admission(borrowed, where="t", catalogs=load_catalogs())
    assert r.attributes["data"] == {"password": "(sensitive)"}
    assert borrowed == review  # the caller's data is untouched
    owned = copy.deepcopy(review)
    [r] = resources_from_admission(owned, where="t", catalogs=load_catalogs(), owned=True)
    assert r.attributes["data"] == {"password": "(sensitive)"}  # no copy made, still redacted
