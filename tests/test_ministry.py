"""The README's main job: `regie scan` of the example ministry with the built-in library.

The expected findings are pinned, by policy and resource, in ``tests/golden/ministry.txt``:
a change to the library, the catalogues or a connector that changes what a new user sees
first shows up here as a diff. To accept an intended change, run with ``REGIE_UPDATE_GOLDEN=1``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden" / "ministry.txt"
UPDATE = os.environ.get("REGIE_UPDATE_GOLDEN") == "1"
ENV = {**os.environ, "NO_COLOR": "1", "PYTHONIOENCODING": "utf-8", "TERM": "dumb"}
#: The secrets planted in the example's Terraform state, manifests and gateway configuration.
SECRETS = (
    "EXAMPLE-AZURE-STORAGE-KEY",
    "EXAMPLE-DB-PASSWORD",
    "EXAMPLE-LAMBDA-SECRET",
    "hf_EXAMPLE",
    "sk-EXAMPLEdeepseek",
)


def scan(*extra: str) -> subprocess.CompletedProcess[str]:
    config = "examples/ministry/regie.toml"
    return subprocess.run(
        [sys.executable, "-m", "regie", "scan", "--config", config, "--today", "2026-11-29", *extra],
        cwd=ROOT, capture_output=True, text=True, encoding="utf-8", env=ENV, timeout=120, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def result() -> dict[str, Any]:
    run = scan("--format", "json")
    assert run.returncode == 1, run.stderr  # deny-level violations block
    assert "Traceback" not in run.stderr
    data: dict[str, Any] = json.loads(run.stdout)
    return data


def line(v: dict[str, Any]) -> str:
    state = "waived" if v["waived"] else (v["enforcement"] if v["outcome"] == "violation" else "unknown")
    resource = v["resource"] + (f" / {v['item']}" if v.get("item") else "")
    return f"{v['policy']}  {resource}  {state}"


def test_the_example_gives_the_pinned_findings(result: dict[str, Any]) -> None:
    got = "\n".join(sorted(line(v) for v in result["violations"])) + "\n"
    if UPDATE:
        GOLDEN.write_text(got, encoding="utf-8")
    assert GOLDEN.is_file(), "run with REGIE_UPDATE_GOLDEN=1 to create tests/golden/ministry.txt"
    assert got == GOLDEN.read_text(encoding="utf-8")


def test_the_example_shows_each_theme_of_the_library(result: dict[str, Any]) -> None:
    by_policy: dict[str, set[str]] = {}
    for v in result["violations"]:
        by_policy.setdefault(v["policy"], set()).add(v["resource"].rsplit("#", 1)[-1])
    # state secrets on public cloud; a supplier under Chinese law (waived, for a pilot)
    assert "scaleway_object_bucket.archief" in by_policy["cloud.classification.public_cloud_ceiling"]
    assert "alicloud_oss_bucket.vertalingen" in by_policy["cloud.supplier.hostile_jurisdiction"]
    # consumer genAI and a Chinese model API
    assert "ChatGPT" in by_policy["genai.consumer.saas_application"]
    assert "chat-test-deepseek" in by_policy["genai.consumer.model_api"]
    # lock-in of a vital service, images from Docker Hub for a vital workload
    assert "module.register.aws_dynamodb_table.aanvragen" in by_policy["csbn.lockin.proprietary_services"]
    assert any(r.endswith("image:nginx") for r in by_policy["csbn.images.vital_registry_jurisdiction"])
    # a label nobody can place is a finding of its own
    assert "hcloud_volume.uploads" in by_policy["classification.label.recognised"]
    assert result["summary"]["blocking"] >= 5 and result["summary"]["unknown"] >= 1
    assert all(v["source"] and v["requirements"] for v in result["violations"])  # each cites its document


def test_no_planted_secret_reaches_the_report(result: dict[str, Any]) -> None:
    text = json.dumps(result)
    table = scan().stdout
    for secret in SECRETS:
        assert secret not in text and secret not in table


def test_the_table_is_grouped_by_source_and_cites_documents() -> None:
    run = scan()
    assert run.returncode == 1
    assert "terraform:examples/ministry/terraform/prod.tfstate (" in run.stdout
    assert "Rijksbreed cloudbeleid 2022" in run.stdout and "BIO2" in run.stdout
    assert "waived (W-2026-014)" in run.stdout
    assert run.stdout.rstrip().splitlines()[-1].endswith("s") and "violations (" in run.stdout
