"""The built-in library over every real input of the corpus: Terraform states and plans, HCL,
Kubernetes manifests and lists, AdmissionReviews and AI-gateway configurations.

No policy may fail on real data (a failing policy is an evaluation error, reported and
counted), and every finding cites its source and requirement, whatever the input holds.
Files a connector refuses by design are pinned in the connectors' own tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from regie.connectors.base import ConnectorError, PullContext
from regie.connectors.sources import Source, pull
from regie.engine.evaluate import PolicySet, evaluate
from regie.engine.facts import Inventory
from regie.loading import BUILTIN_POLICIES, load_catalogs, load_modules

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("REGIE_CORPUS", ROOT.parent / "shared" / "corpus"))
SCHEMES = {
    "tfstate": "terraform",
    "tfplan": "terraform",
    "hcl": "terraform",
    "k8s-manifests": "k8s:manifests",
    "k8s-list": "k8s:manifests",
    "admission-review": "k8s:admission",
    "ai-gateway": "litellm",
}
FILES = sorted(
    (folder, path.name)
    for folder in SCHEMES
    if (CORPUS / folder).is_dir()
    for path in (CORPUS / folder).iterdir()
    if path.is_file()
)
pytestmark = pytest.mark.skipif(not FILES, reason=f"corpus not found at {CORPUS}")
#: What the connectors refuse, each with a clear error (pinned in their own tests).
REFUSED = {
    ("hcl", "EDGE_opentofu_json-as-native-syntax.tf"),
    ("hcl", "tfjson_110-basic.terraform.lock.hcl"),
    ("k8s-list", "kubewarden_session_params_selector.recorded-session.yaml"),
    ("k8s-manifests", "EDGE_k8sexamples_vttablet-unrendered-template.yaml"),
    ("tfplan", "EDGE_opentofu_plan-error.plan.json"),
    ("tfplan", "EDGE_tfjson_invalid.plan.json"),
    ("tfstate", "EDGE_tfjson_invalid-state.json"),
    ("tfstate", "opentofu_show-json-state-basic.json"),
    ("tfstate", "opentofu_v3-simple.tfstate"),
}


@pytest.fixture(scope="module")
def library() -> PolicySet:
    modules, diags = load_modules([BUILTIN_POLICIES])
    assert not diags
    built = PolicySet.build(modules)
    assert not isinstance(built, list)
    return built


@pytest.mark.parametrize(("folder", "name"), FILES, ids=[f"{f}/{n}" for f, n in FILES])
def test_the_library_runs_on_real_input(library: PolicySet, folder: str, name: str) -> None:
    catalogs = load_catalogs()
    scheme = SCHEMES[folder]
    if name.endswith(".json") and folder == "ai-gateway":
        scheme = "openai-models"
    try:
        resources = pull(Source(scheme, str(CORPUS / folder / name)), PullContext(catalogs=catalogs))
    except ConnectorError:
        assert (folder, name) in REFUSED, f"{folder}/{name} was refused"
        return
    assert (folder, name) not in REFUSED
    evaluation = evaluate(library, Inventory(resources), catalogs, context="audit")
    assert evaluation.errors == [], evaluation.errors
    for v in evaluation.violations:
        assert v.citation and v.requirements and v.message, v
        assert v.outcome in ("violation", "unknown") and (v.outcome == "violation" or v.reason)
