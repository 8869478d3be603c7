"""`regie scan` and `regie facts` end to end, over real corpus files, as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
QUICKSTART = ROOT / "examples" / "quickstart" / "policies"
VLLM = CORPUS / "k8s-manifests" / "k8sexamples_vllm-deployment.yaml"
LITELLM = CORPUS / "ai-gateway" / "litellm_azure_config.yaml"
ADMISSION = CORPUS / "admission-review" / "kubewarden_deployment.admissionreview.json"


def regie(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "regie", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def test_facts_from_several_sources_at_once() -> None:
    run = regie(
        "facts", "-s", f"k8s:manifests:{VLLM}", "-s", f"litellm:{LITELLM}", "-s", f"k8s:admission:{ADMISSION}"
    )
    assert run.returncode == 0, run.stderr
    payload = json.loads(run.stdout)
    assert payload["version"] == 1 and payload["errors"] == []
    kinds = {r["kind"] for r in payload["resources"]}
    assert {"kubernetes.workload", "container.image", "ai.model"} <= kinds
    ids = [r["id"] for r in payload["resources"]]
    assert len(ids) == len(set(ids))


def test_facts_output_is_what_eval_reads(tmp_path: Path) -> None:
    run = regie("facts", "-s", f"k8s:admission:{ADMISSION}")
    facts = tmp_path / "facts.json"
    facts.write_text(run.stdout, encoding="utf-8")
    evaluated = regie("eval", "--policies", str(QUICKSTART), "--facts", str(facts), "--format", "json")
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["summary"]["resources"] == len(json.loads(run.stdout)["resources"])


def test_a_failing_source_is_reported_and_the_others_still_count() -> None:
    run = regie(
        "scan",
        "--policies",
        str(QUICKSTART),
        "-s",
        f"k8s:admission:{ADMISSION}",
        "-s",
        "terraform:does-not-exist.tfstate",
        "--format",
        "json",
    )
    assert run.returncode == 2
    payload = json.loads(run.stdout)
    assert payload["summary"]["resources"] > 0
    (failure,) = payload["source_errors"]
    assert failure["source"] == "terraform:does-not-exist.tfstate"
    assert "does-not-exist.tfstate" in run.stderr


def test_allow_partial_keeps_the_exit_code_of_the_findings() -> None:
    run = regie(
        "scan",
        "--policies",
        str(QUICKSTART),
        "-s",
        f"k8s:admission:{ADMISSION}",
        "-s",
        "terraform:does-not-exist.tfstate",
        "--allow-partial",
    )
    assert run.returncode == 0, run.stderr
    assert "does-not-exist.tfstate" in run.stderr


def test_an_unknown_kind_of_source_is_a_usage_error() -> None:
    run = regie("scan", "-s", "kubernetes:deploy/")
    assert run.returncode == 2
    assert "--source kubernetes:deploy/: unknown kind of source" in run.stderr


def test_scan_joins_the_service_inventory() -> None:
    inventory = ROOT / "tests" / "fixtures" / "inventory" / "services.yaml"
    run = regie("facts", "-s", f"k8s:admission:{ADMISSION}", "--inventory", str(inventory))
    assert run.returncode == 0, run.stderr
    services = [r for r in json.loads(run.stdout)["resources"] if r["kind"] == "service"]
    assert "toeslagen-portaal" in {r["name"] for r in services}


def test_a_source_that_no_longer_has_a_finding_resolves_it_in_the_store(tmp_path: Path) -> None:
    """Every resource carries its source as given, so a later scan of the same source, even one
    that now yields nothing, resolves what that source had."""
    gateway = tmp_path / "litellm.yaml"
    gateway.write_text(
        "model_list:\n  - model_name: test\n    litellm_params: {model: deepseek/deepseek-chat}\n",
        encoding="utf-8",
    )
    db = tmp_path / "regie.db"
    args = ("scan", "--source", f"litellm:{gateway}", "--store", str(db), "--format", "json")
    first = regie(*args, cwd=tmp_path)
    assert first.returncode == 1, first.stderr
    found = json.loads(first.stdout)["violations"]
    assert {v["origin"] for v in found} == {f"litellm:{gateway}"}
    gateway.write_text("model_list: []\n", encoding="utf-8")
    second = regie(*args, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert f"0 opened, 0 kept open, {len(found)} resolved" in second.stderr + second.stdout
