"""Kubernetes manifests and derived facts, against the real corpus (shared/corpus/k8s-manifests, k8s-list)."""
# ruff: noqa: E501, RUF043

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from regie.connectors.base import REDACTED, ConnectorError, PullContext
from regie.connectors.kubernetes import (
    detect_models,
    load_manifest_text,
    node_location,
    parse_image,
    pull_manifests,
    resources_from_objects,
)
from regie.dsl.values import Unknown
from regie.engine.catalog import Catalogs
from regie.loading import load_catalogs

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("REGIE_CORPUS", ROOT.parent / "shared" / "corpus"))
needs_corpus = pytest.mark.skipif(not (CORPUS / "k8s-manifests").is_dir(), reason="corpus not found")

CATALOGS = load_catalogs()
CTX = PullContext(catalogs=CATALOGS, env={})

#: file → None (loads) or a regex the refusal must match.
EXPECTED: dict[str, str | None] = {
    "k8s-manifests/EDGE_k8sexamples_podsecuritypolicy-removed-api.yaml": None,  # removed API: still facts
    "k8s-manifests/EDGE_k8sexamples_vttablet-unrendered-template.yaml": (
        r"EDGE_k8sexamples_vttablet-unrendered-template\.yaml:4: unrendered template placeholder `\{\{uid\}\}`"
    ),
    "k8s-manifests/conftest_combine.yaml": None,
    "k8s-manifests/conftest_deployment+service.yaml": None,
    "k8s-manifests/gatekeeper-library_containerlimits-constraint.yaml": None,
    "k8s-manifests/gatekeeper-library_containerlimits-constrainttemplate.yaml": None,
    "k8s-manifests/gatekeeper-library_containerlimits-example-disallowed.yaml": None,
    "k8s-manifests/gatekeeper_configs-crd.yaml": None,
    "k8s-manifests/gatekeeper_constrainttemplate-crd.yaml": None,
    "k8s-manifests/ingress-nginx_cloud-deploy-helm-rendered.yaml": None,
    "k8s-manifests/k8sexamples_cassandra-statefulset.yaml": None,
    "k8s-manifests/k8sexamples_cockroachdb-statefulset.yaml": None,
    "k8s-manifests/k8sexamples_guestbook-all-in-one.yaml": None,
    "k8s-manifests/k8sexamples_tf-serving-ingress.yaml": None,
    "k8s-manifests/k8sexamples_tf-serving-pv.yaml": None,
    "k8s-manifests/k8sexamples_vllm-deployment.yaml": None,
    "k8s-manifests/k8sexamples_vllm-hpa.yaml": None,
    "k8s-manifests/k8sexamples_vllm-prometheusrule-cr.yaml": None,
    "k8s-manifests/k8sexamples_vllm-service.yaml": None,
    "k8s-manifests/kyverno_disallow-latest-tag-clusterpolicy.yaml": None,
    "k8s-manifests/kyverno_escalation-verbs-roles-helm-rendered.yaml": None,
    "k8s-manifests/kyverno_require-labels-clusterpolicy.yaml": None,
    "k8s-manifests/kyverno_require-labels-test-resources.yaml": None,
    "k8s-manifests/kyverno_require-run-as-nonroot-test-resources.yaml": None,
    "k8s-list/kubernetes_list.yaml": None,
    "k8s-list/kubernetes_multi-resource-list.json": None,
    "k8s-list/kubernetes_multi-resource-svclist.json": None,
    "k8s-list/kubewarden_configmaplist-empty.json": None,
    "k8s-list/kubewarden_configmaplist.json": None,
    "k8s-list/kubewarden_session_params_selector.recorded-session.yaml": (
        r"recorded-session\.yaml:1: expected a Kubernetes object .* got a list"
    ),
}


@needs_corpus
def test_every_corpus_file_is_listed() -> None:
    on_disk = {f"{d}/{p.name}" for d in ("k8s-manifests", "k8s-list") for p in (CORPUS / d).iterdir()}
    assert on_disk == set(EXPECTED)


@needs_corpus
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file_loads_or_is_refused(name: str) -> None:
    expected = EXPECTED[name]
    if expected is None:
        resources = pull_manifests(str(CORPUS / name), CTX)
        assert len({r.id for r in resources}) == len(resources)
        for r in resources:
            assert r.id.startswith(f"k8s:{CORPUS / name}/")
    else:
        with pytest.raises(ConnectorError, match=expected):
            pull_manifests(str(CORPUS / name), CTX)


@needs_corpus
def test_folder_of_manifests(tmp_path: Path) -> None:
    for name in ("k8sexamples_vllm-deployment.yaml", "k8sexamples_vllm-service.yaml"):
        (tmp_path / name).write_bytes((CORPUS / "k8s-manifests" / name).read_bytes())
    (tmp_path / "notes.txt").write_text("not a manifest")
    resources = pull_manifests(str(tmp_path), CTX)
    assert {r.kind for r in resources} == {
        "kubernetes.workload",
        "kubernetes.service",
        "container.image",
        "ai.model",
    }


@needs_corpus
def test_vllm_example_gives_the_model() -> None:
    path = str(CORPUS / "k8s-manifests" / "k8sexamples_vllm-deployment.yaml")
    resources = pull_manifests(path, CTX)
    workload = next(r for r in resources if r.kind == "kubernetes.workload")
    assert workload.id == f"k8s:{path}/apps/v1/Deployment/_/vllm-gemma-deployment"
    assert workload.type == "apps/v1/Deployment"
    model = next(r for r in resources if r.kind == "ai.model")
    assert model.id == f"{workload.id}#model:inference-server"
    assert model.attributes["model"] == "google/gemma-3-1b-it"  # --model=$(MODEL_ID), expanded from env
    assert model.attributes["server"] == "vllm" and model.attributes["workload"] == workload.id
    assert model.provider == "self-hosted" and model.attributes["model_key"] == "gemma"
    image = next(r for r in resources if r.kind == "container.image")
    assert image.attributes["registry"] == "docker.io"
    assert image.attributes["repository"] == "vllm/vllm-openai" and image.attributes["tag"] == "v0.11.0"
    assert image.provider == "docker.io" and image.country == "US"


@needs_corpus
def test_images_give_registry_hosts() -> None:
    resources = pull_manifests(
        str(CORPUS / "k8s-manifests" / "ingress-nginx_cloud-deploy-helm-rendered.yaml"), CTX
    )
    registries = {r.attributes["registry"] for r in resources if r.kind == "container.image"}
    assert registries == {"registry.k8s.io"}
    listed = pull_manifests(str(CORPUS / "k8s-list" / "kubernetes_multi-resource-list.json"), CTX)
    image = next(r for r in listed if r.kind == "container.image")
    assert image.attributes["registry"] == "k8s.gcr.io" and image.attributes["tag"] == "3.7"
    assert image.provider == "*.gcr.io" and image.country == "US"  # a pattern key of the catalogue


@needs_corpus
def test_typed_list_items_get_kind_from_the_list() -> None:
    resources = pull_manifests(str(CORPUS / "k8s-list" / "kubewarden_configmaplist.json"), CTX)
    assert [r.type for r in resources] == ["v1/ConfigMap", "v1/ConfigMap"]
    assert resources[0].id.endswith("/v1/ConfigMap/default/my-config")


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("redis", ("docker.io", "library/redis", None, None)),
        ("library/redis:7", ("docker.io", "library/redis", "7", None)),
        ("bitnami/redis:7.2", ("docker.io", "bitnami/redis", "7.2", None)),
        ("localhost:5000/app", ("localhost:5000", "app", None, None)),
        ("registry.k8s.io/ingress-nginx/controller:v1.9@sha256:abc", ("registry.k8s.io", "ingress-nginx/controller", "v1.9", "sha256:abc")),
        ("contoso.azurecr.io/team/api@sha256:def", ("contoso.azurecr.io", "team/api", None, "sha256:def")),
    ],
)  # fmt: skip
def test_parse_image(image: str, expected: tuple[str, str, str | None, str | None]) -> None:
    assert tuple(parse_image(image)) == expected


def _pod(*images: str, **meta: object) -> dict[str, object]:
    containers = [{"name": f"c{i}", "image": image} for i, image in enumerate(images)]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns", **meta},
            "spec": {"containers": containers}}  # fmt: skip


def test_registry_patterns_from_the_catalogue() -> None:
    resources = resources_from_objects(
        [_pod("contoso.azurecr.io/api:1", "123.dkr.ecr.eu-west-1.amazonaws.com/x:1", "ghcr.io/o/a:1")],
        source="t", origin="t", catalogs=CATALOGS,
    )  # fmt: skip
    providers = [r.provider for r in resources if r.kind == "container.image"]
    assert providers == ["*.azurecr.io", "*.dkr.ecr.*.amazonaws.com", "ghcr.io"]


def test_all_container_kinds_and_cronjob_templates() -> None:
    cron = {
        "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly"},
        "spec": {"jobTemplate": {"spec": {"template": {"spec": {
            "initContainers": [{"name": "init", "image": "busybox"}],
            "containers": [{"name": "main", "image": "quay.io/org/job:2"}],
            "ephemeralContainers": [{"name": "debug", "image": "gcr.io/distroless/base"}],
        }}}}},
    }  # fmt: skip
    resources = resources_from_objects([cron], source="t", origin="t", catalogs=CATALOGS)
    images = {
        r.id.rsplit(":", 1)[1]: r.attributes["registry"] for r in resources if r.kind == "container.image"
    }
    assert images == {"init": "docker.io", "main": "quay.io", "debug": "gcr.io"}


def test_ownership_from_object_then_namespace_and_inherited_by_images() -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns", "labels": {
        "app.kubernetes.io/part-of": "pay", "regie.dev/classification": "BBN2", "regie.dev/vital": "true",
        "regie.dev/exit-plan": "EP-7", "regie.dev/owner": "team-a"}}}  # fmt: skip
    pod = _pod("nginx", labels={"regie.dev/classification": "BBN1"})
    resources = resources_from_objects([ns, pod], source="t", origin="t", catalogs=CATALOGS)
    workload = next(r for r in resources if r.kind == "kubernetes.workload")
    assert (workload.service, workload.classification, workload.vital) == ("pay", "BBN1", True)
    assert (workload.exit_plan, workload.owner) == ("EP-7", "team-a")
    image = next(r for r in resources if r.kind == "container.image")
    assert (image.service, image.classification, image.vital) == ("pay", "BBN1", True)
    # namespace labels supplied from outside (a webhook's cache)
    alone = resources_from_objects([pod], source="t", origin="t", catalogs=CATALOGS,
                                   namespace_labels={"ns": {"app.kubernetes.io/part-of": "cached"}})  # fmt: skip
    assert alone[0].service == "cached"


SECRET_YAML = """
apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: pay
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"data":{"password":"aHVudGVyMi1iNjQ="}}'
type: Opaque
data:
  password: aHVudGVyMi1iNjQ=
stringData:
  token: plain-t0ken-value
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: pay}
spec:
  template:
    spec:
      containers:
      - name: api
        image: ghcr.io/org/api:1
        args: ["--api-key=sk-live-abcdef", "--password", "pw-in-args", "--port=80"]
        env:
        - {name: DB_PASSWORD, value: env-hunter2}
        - {name: OPENAI_API_KEY, value: sk-env-123}
        - {name: LOG_LEVEL, value: debug}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: pay}
data: {SMTP_PASSWORD: cm-pass-9, greeting: hello}
"""


def test_secrets_never_come_through(tmp_path: Path) -> None:
    path = tmp_path / "secret.yaml"
    path.write_text(SECRET_YAML)
    resources = pull_manifests(str(path), CTX)
    dumped = json.dumps([r.to_dict() for r in resources])
    for value in ("aHVudGVyMi1iNjQ=", "plain-t0ken-value", "sk-live-abcdef", "pw-in-args", "env-hunter2",
                  "sk-env-123", "cm-pass-9"):  # fmt: skip
        assert value not in dumped
    secret = next(r for r in resources if r.kind == "kubernetes.secret")
    assert secret.attributes["data"] == {"password": REDACTED}
    assert secret.attributes["stringData"] == {"token": REDACTED}
    deployment = next(r for r in resources if r.kind == "kubernetes.workload")
    container = deployment.attributes["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == [f"--api-key={REDACTED}", "--password", REDACTED, "--port=80"]
    assert container["env"][2] == {"name": "LOG_LEVEL", "value": "debug"}
    config = next(r for r in resources if r.kind == "kubernetes.config")
    assert config.attributes["data"] == {"SMTP_PASSWORD": REDACTED, "greeting": "hello"}


def test_refusals_name_file_and_line() -> None:
    with pytest.raises(ConnectorError, match=r"^f\.yaml:4: not valid YAML"):
        load_manifest_text("a: 1\nb: 2\nc: [\n", "f.yaml")
    with pytest.raises(ConnectorError, match=r"^f\.yaml:2: unrendered template `\{\{- if"):
        load_manifest_text("apiVersion: v1\n{{- if .Values.enabled }}\nkind: Pod\n", "f.yaml")
    with pytest.raises(ConnectorError, match=r"^f\.yaml:5: a Kubernetes object needs `kind`"):
        load_manifest_text("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\napiVersion: v1\n", "f.yaml")
    with pytest.raises(ConnectorError, match="has no metadata.name"):
        load_manifest_text("apiVersion: v1\nkind: Pod\n", "f.yaml")
    assert load_manifest_text("---\n---\n# only a comment\n", "f.yaml") == []
    # a Go template inside a ConfigMap value is data, not an unrendered manifest
    cm = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {alert: '{{ $labels.instance }} down'}\n"
    )
    assert len(load_manifest_text(cm, "f.yaml")) == 1


def test_duplicate_object_is_refused(tmp_path: Path) -> None:
    doc = "apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: n}\n"
    (tmp_path / "x.yaml").write_text(doc + "---\n" + doc)
    with pytest.raises(ConnectorError, match="appears twice"):
        pull_manifests(str(tmp_path / "x.yaml"), CTX)
    with pytest.raises(ConnectorError, match="no such file"):
        pull_manifests(str(tmp_path / "nope.yaml"), CTX)


@pytest.mark.parametrize(
    ("pid", "labels", "expected"),
    [
        ("aws:///eu-central-1a/i-0abc", {}, ("aws", "eu-central-1")),
        ("azure:///subscriptions/s/resourceGroups/r/providers/Microsoft.Compute/virtualMachines/vm", {"topology.kubernetes.io/region": "westeurope"}, ("azurerm", "westeurope")),
        ("gce://my-project/europe-west4-a/gke-node-1", {}, ("google", "europe-west4")),
        ("hcloud://123456", {"topology.kubernetes.io/region": "fsn1"}, ("hcloud", "fsn1")),
        ("scaleway://instance/fr-par-1/11111111-2222", {}, ("scaleway", "fr-par")),
    ],
)  # fmt: skip
def test_node_location(pid: str, labels: dict[str, str], expected: tuple[str, str]) -> None:
    assert node_location({"metadata": {"labels": labels}, "spec": {"providerID": pid}}) == expected


def test_openstack_node_is_unknown_provider() -> None:
    provider, region = node_location({"spec": {"providerID": "openstack:///8a7f"}})
    assert isinstance(provider, Unknown) and isinstance(region, Unknown)


def test_workloads_inherit_the_cluster_location() -> None:
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n", "labels": {
        "topology.kubernetes.io/region": "fsn1"}}, "spec": {"providerID": "hcloud://42"}}  # fmt: skip
    resources = resources_from_objects([node, _pod("nginx")], source="t", origin="t", catalogs=CATALOGS)
    node_r, pod_r = resources[0], resources[1]
    assert (node_r.provider, node_r.region, node_r.country) == ("hcloud", "fsn1", "DE")
    assert (pod_r.provider, pod_r.region, pod_r.country) == ("hcloud", "fsn1", "DE")
    other = dict(node, metadata={"name": "m", "labels": {"topology.kubernetes.io/region": "hel1"}})
    mixed = resources_from_objects([node, other, _pod("x")], source="t", origin="t", catalogs=CATALOGS)
    assert mixed[2].provider == "hcloud" and isinstance(mixed[2].region, Unknown)


def _container_pod(container: dict[str, object]) -> dict[str, object]:
    return {"kind": "Pod", "spec": {"containers": [{"name": "m", **container}]}}


@pytest.mark.parametrize(
    ("container", "server", "model"),
    [
        ({"image": "vllm/vllm-openai:latest", "args": ["--model", "mistralai/Mistral-7B-Instruct-v0.3"]}, "vllm", "mistralai/Mistral-7B-Instruct-v0.3"),
        ({"image": "python:3.12", "command": ["vllm", "serve", "Qwen/Qwen2.5-7B-Instruct", "--port", "8000"]}, "vllm", "Qwen/Qwen2.5-7B-Instruct"),
        ({"image": "ghcr.io/huggingface/text-generation-inference:2.4", "args": ["--model-id", "BSC-LT/salamandra-7b-instruct"]}, "tgi", "BSC-LT/salamandra-7b-instruct"),
        ({"image": "ghcr.io/huggingface/text-generation-inference:2.4", "env": [{"name": "MODEL_ID", "value": "google/gemma-2-9b-it"}]}, "tgi", "google/gemma-2-9b-it"),
        ({"image": "ghcr.io/huggingface/text-embeddings-inference:cpu-1.5", "args": ["--model-id", "BAAI/bge-m3"]}, "tei", "BAAI/bge-m3"),
        ({"image": "ollama/ollama:0.5", "lifecycle": {}, "command": ["/bin/sh", "-c", "ollama serve & sleep 5; ollama pull mistral:7b; wait"]}, "ollama", "mistral:7b"),
        ({"image": "ghcr.io/ggerganov/llama.cpp:server", "args": ["-m", "/models/phi-4.gguf", "--port", "8080"]}, "llama.cpp", "/models/phi-4.gguf"),
    ],
)  # fmt: skip
def test_model_servers(container: dict[str, object], server: str, model: str) -> None:
    [found] = detect_models(_container_pod(container))
    assert (found.server, found.model) == (server, model)


def test_model_provider_from_the_catalogue_and_kserve() -> None:
    isvc = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": {"name": "llm", "namespace": "ai"},
            "spec": {"predictor": {"model": {"modelFormat": {"name": "huggingface"},
                     "storageUri": "hf://mistralai/Mistral-7B-Instruct-v0.3"}}}}  # fmt: skip
    resources = resources_from_objects([isvc], source="t", origin="t", catalogs=CATALOGS)
    model = next(r for r in resources if r.kind == "ai.model")
    assert model.attributes["server"] == "kserve/huggingface"
    assert model.attributes["model"] == "hf://mistralai/Mistral-7B-Instruct-v0.3"
    assert model.provider == "self-hosted" and model.attributes["model_key"] in CATALOGS.entries["models"]
    assert not detect_models(_container_pod({"image": "nginx"}))


def test_empty_catalogue_makes_everything_unknown() -> None:
    resources = resources_from_objects([_pod("nginx")], source="t", origin="t", catalogs=Catalogs())
    assert isinstance(resources[1].provider, Unknown)
