"""The Kubernetes manifests in deploy/: they parse, and the fields docs/deploy.md explains are set.

There is no cluster here; these checks pin the choices a review would look for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


def documents() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(DEPLOY.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc is not None:
                assert {"apiVersion", "kind", "metadata"} <= set(doc), path
                docs.append(doc)
    return docs


def one(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in documents() if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"{kind} {name}: {len(found)}"
    return found[0]


def test_every_manifest_parses_and_names_are_unique() -> None:
    keys = [(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]) for d in documents()]
    assert len(keys) == len(set(keys))
    assert {k for k, _, _ in keys} >= {
        "Namespace",
        "Deployment",
        "Service",
        "ValidatingWebhookConfiguration",
        "Certificate",
        "CronJob",
        "PodDisruptionBudget",
    }


def test_the_webhook_configuration_is_explicit() -> None:
    config = one("ValidatingWebhookConfiguration")
    assert config["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == "regie/regie-webhook"
    [hook] = config["webhooks"]
    assert hook["failurePolicy"] in ("Fail", "Ignore")
    assert hook["sideEffects"] == "None"
    assert hook["admissionReviewVersions"] == ["v1"]
    assert 1 <= hook["timeoutSeconds"] <= 30
    assert hook["clientConfig"]["service"] == {
        "name": "regie-webhook",
        "namespace": "regie",
        "path": "/admission",
        "port": 443,
    }
    excluded = next(
        e["values"]
        for e in hook["namespaceSelector"]["matchExpressions"]
        if e["key"] == "kubernetes.io/metadata.name" and e["operator"] == "NotIn"
    )
    assert {"kube-system", "regie"} <= set(excluded)
    for rule in hook["rules"]:
        assert "DELETE" not in rule["operations"] and "CONNECT" not in rule["operations"]


def test_the_deadline_is_well_below_the_webhook_timeout() -> None:
    [hook] = one("ValidatingWebhookConfiguration")["webhooks"]
    args = one("Deployment", "regie-webhook")["spec"]["template"]["spec"]["containers"][0]["args"]
    deadline = next(int(a.split("=", 1)[1]) for a in args if a.startswith("--deadline-ms="))
    assert deadline <= hook["timeoutSeconds"] * 1000 / 2
    assert any(a.startswith("--failure-mode=") for a in args)


def test_the_webhook_deployment_is_redundant_probed_bounded_and_locked_down() -> None:
    deployment = one("Deployment", "regie-webhook")
    spec = deployment["spec"]
    assert spec["replicas"] == 2
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    [container] = pod["containers"]
    assert container["args"][0] == "serve"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["requests"]["cpu"] and container["resources"]["limits"]["memory"]
    sc = container["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"]["drop"] == ["ALL"]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    secret = {v["name"]: v.get("secret", {}).get("secretName") for v in pod["volumes"]}
    assert secret[mounts["/etc/regie/tls"]] == one("Certificate")["spec"]["secretName"]
    selector = one("Service", "regie-webhook")["spec"]["selector"]
    assert selector.items() <= spec["template"]["metadata"]["labels"].items()
    assert one("PodDisruptionBudget")["spec"]["minAvailable"] == 1


def test_the_certificate_names_the_service() -> None:
    cert = one("Certificate")
    assert "regie-webhook.regie.svc" in cert["spec"]["dnsNames"]


@pytest.mark.parametrize("verb", ["create", "update", "delete", "patch"])
def test_the_audit_cronjob_scans_read_only(verb: str) -> None:
    cron = one("CronJob", "regie-audit")
    job = cron["spec"]["jobTemplate"]["spec"]
    [container] = job["template"]["spec"]["containers"]
    assert container["args"][:2] == ["scan", "--source=k8s:in-cluster"]
    assert "--store=$(REGIE_STORE)" in container["args"]  # results go into the shared store
    [env] = container["env"]
    assert env["valueFrom"]["secretKeyRef"] == {"name": "regie-store", "key": "url"}
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    role = one("ClusterRole", "regie-audit")
    assert all(verb not in rule["verbs"] for rule in role["rules"])


def test_the_prune_cronjob_needs_the_store_and_no_api_access() -> None:
    """docs/deploy.md, prune-cronjob.yaml: retention runs against the store alone."""
    cron = one("CronJob", "regie-prune")
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False and "serviceAccountName" not in pod
    [container] = pod["containers"]
    assert container["args"][:2] == ["prune", "--store=$(REGIE_STORE)"]
    [keep] = [a for a in container["args"] if a.startswith("--keep-days=")]
    assert int(keep.removeprefix("--keep-days=")) >= 30  # never a retention of days by accident
    [env] = container["env"]
    assert env["valueFrom"]["secretKeyRef"] == {"name": "regie-store", "key": "url"}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"


def test_the_webhook_reads_namespace_labels_and_nothing_more() -> None:
    """Ownership labels on namespaces reach admission decisions: the webhook lists namespaces
    in-cluster, with its own token, and may do nothing else with the API."""
    deployment = one("Deployment", "regie-webhook")
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert "--namespace-labels=in-cluster" in container["args"]
    refresh = [a for a in container["args"] if a.startswith("--namespace-refresh=")]
    assert all(1 <= float(a.split("=", 1)[1]) <= 300 for a in refresh)
    assert pod["automountServiceAccountToken"] is True  # in-cluster reads the token
    account = pod["serviceAccountName"]
    bindings = [
        b
        for b in documents()
        if b["kind"] == "ClusterRoleBinding"
        and {"kind": "ServiceAccount", "name": account, "namespace": "regie"} in b["subjects"]
    ]
    [binding] = bindings
    role = one("ClusterRole", binding["roleRef"]["name"])
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list", "watch"]}
    ]
    # no namespaced Role gives the webhook more
    assert not [
        b
        for b in documents()
        if b["kind"] == "RoleBinding" and any(s.get("name") == account for s in b["subjects"])
    ]
