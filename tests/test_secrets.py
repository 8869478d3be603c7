"""Secrets in real source files never reach any output: facts, a JSON report, a table, an explanation.

The policy below is an adversary: it fails on every resource and prints every attribute
in its message, so whatever a connector lets through would show.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("REGIE_CORPUS", ROOT.parent / "shared" / "corpus"))

LEAKY_POLICY = """
policy leak.everything {
  title "Print everything"
  source "tests/test_secrets.py"
  enforce deny
  for r in resources
  require false
  message "{r.id}: {string(r.attributes)} {string(r.labels)}"
}
"""

#: (source, secret strings that appear in the file but must appear in no output)
CASES = [
    (f"terraform:{CORPUS / 'tfplan' / 'opentofu_sensitive-values.plan.json'}", ["boop"]),
    (f"terraform:{CORPUS / 'tfstate' / 'opentofu_sensitive-variables.tfstate'}", ['"abc"', ": abc", "abc,"]),
    (f"litellm:{CORPUS / 'ai-gateway' / 'litellm_load_balancer.yaml'}", ["sk-uj6F", "sk-Imn", "eYVX71"]),
]


def regie(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "regie", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(("source", "secrets"), CASES, ids=[c[0].rsplit("/", 1)[1] for c in CASES])
def test_no_output_format_shows_a_secret(tmp_path: Path, source: str, secrets: list[str]) -> None:
    policy = tmp_path / "leak.regie"
    policy.write_text(LEAKY_POLICY, encoding="utf-8")
    runs = [
        regie("facts", "-s", source),
        regie("scan", "-p", str(policy), "-s", source, "--format", "json"),
        regie("scan", "-p", str(policy), "-s", source),
    ]
    facts = tmp_path / "facts.json"
    facts.write_text(runs[0].stdout, encoding="utf-8")
    runs.append(regie("eval", "-p", str(policy), "-f", str(facts), "--format", "json"))
    assert all(run.returncode in (0, 1) for run in runs), [run.stderr for run in runs]
    assert "(sensitive)" in runs[0].stdout  # the redaction happened, and is visible as such
    for run in runs:
        for secret in secrets:
            assert secret not in run.stdout and secret not in run.stderr, (run.args, secret)
