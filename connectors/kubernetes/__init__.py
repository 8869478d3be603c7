"""The Kubernetes connector: manifests, live clusters and admission requests as Regie resources.

- ``k8s:manifests:PATH`` — :func:`pull_manifests` (:mod:`.manifests`)
- ``k8s:context:NAME`` and ``k8s:in-cluster`` — :func:`pull_context`, :func:`pull_in_cluster` (:mod:`.client`,
  :mod:`.kubeconfig`)
- ``k8s:admission:PATH`` — :func:`pull_admission`; the webhook calls :func:`resources_from_admission`
- objects to resources, images, models and node locations — :mod:`.facts`
"""

from __future__ import annotations

from regie.connectors.kubernetes.admission import pull_admission, resources_from_admission
from regie.connectors.kubernetes.client import pull_cluster, pull_context, pull_in_cluster
from regie.connectors.kubernetes.facts import (
    detect_models,
    node_location,
    parse_image,
    redact_object,
    resources_from_objects,
)
from regie.connectors.kubernetes.kubeconfig import ClusterConfig, in_cluster_config, load_kubeconfig
from regie.connectors.kubernetes.manifests import load_manifest_text, load_manifests, pull_manifests

__all__ = [
    "ClusterConfig",
    "detect_models",
    "in_cluster_config",
    "load_kubeconfig",
    "load_manifest_text",
    "load_manifests",
    "node_location",
    "parse_image",
    "pull_admission",
    "pull_cluster",
    "pull_context",
    "pull_in_cluster",
    "pull_manifests",
    "redact_object",
    "resources_from_admission",
    "resources_from_objects",
]
