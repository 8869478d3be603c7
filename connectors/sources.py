"""Source strings (``terraform:state.json``, ``k8s:manifests:deploy/``) to connector calls.

The table below is the one place that knows which scheme a connector serves;
connectors are imported only when a source of theirs is pulled, so a scan of
Terraform state never imports the Kubernetes client.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import cast

from regie.connectors.base import ConnectorError, PullContext, Puller
from regie.engine.facts import Resource

__all__ = ["SCHEMES", "Source", "parse_source", "pull"]

#: scheme → (module, function, what the target is). Longest schemes first when matching.
SCHEMES: dict[str, tuple[str, str, str]] = {
    "terraform": (
        "regie.connectors.terraform",
        "pull",
        "a state or plan JSON file, a .tf file or folder, or an http(s) URL",
    ),
    "k8s:manifests": ("regie.connectors.kubernetes", "pull_manifests", "a manifest file or folder"),
    "k8s:context": ("regie.connectors.kubernetes", "pull_context", "a kubeconfig context name"),
    "k8s:in-cluster": (
        "regie.connectors.kubernetes",
        "pull_in_cluster",
        "nothing (the pod's service account)",
    ),
    "k8s:admission": (
        "regie.connectors.kubernetes",
        "pull_admission",
        "an AdmissionReview or AdmissionRequest file",
    ),
    "litellm": ("regie.connectors.http", "pull_litellm", "a LiteLLM config.yaml, or a proxy's base URL"),
    "openai-models": (
        "regie.connectors.http",
        "pull_openai_models",
        "a /v1/models response file or endpoint",
    ),
    "http": ("regie.connectors.http", "pull_config", "a declarative connector configuration (YAML)"),
    "saas": ("regie.connectors.http", "pull_saas_export", "a SaaS inventory export (CSV or JSON)"),
}


@dataclass(frozen=True, slots=True)
class Source:
    scheme: str
    target: str

    def __str__(self) -> str:
        return f"{self.scheme}:{self.target}" if self.target else self.scheme


def parse_source(text: str) -> Source:
    """``scheme:target``; the longest scheme that matches wins (``k8s:manifests`` before ``k8s``).

    >>> parse_source("k8s:manifests:deploy/")
    Source(scheme='k8s:manifests', target='deploy/')
    >>> parse_source("k8s:in-cluster")
    Source(scheme='k8s:in-cluster', target='')
    """
    for scheme in sorted(SCHEMES, key=len, reverse=True):
        if text == scheme:
            return Source(scheme, "")
        if text.startswith(scheme + ":"):
            target = text[len(scheme) + 1 :]
            if not target and scheme != "k8s:in-cluster":
                raise ConnectorError(f"--source {text}", f"`{scheme}:` needs {SCHEMES[scheme][2]}")
            return Source(scheme, target)
    known = ", ".join(f"{s}:…" for s in SCHEMES)
    raise ConnectorError(f"--source {text}", f"unknown kind of source; expected one of {known}")


def pull(source: Source, ctx: PullContext) -> list[Resource]:
    """Pull one source. Raises :class:`ConnectorError` for anything the user can fix."""
    module_name, function, _ = SCHEMES[source.scheme]
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ConnectorError(str(source), f"this connector is not available: {err}") from None
    puller = cast(Puller, getattr(module, function))
    return puller(source.target, ctx)
