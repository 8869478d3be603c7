"""`regie scan|eval --store` and `regie replay`, run as people and CronJobs run them, on both backends."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from regie.connectors.kubernetes.admission import resources_from_admission
from regie.engine.evaluate import PolicySet, evaluate
from regie.engine.facts import Inventory
from regie.loading import BUILTIN_POLICIES, load_catalogs, load_modules
from regie.replay import render_replay, replay_record
from regie.store import open_store, policy_set_hash

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = ROOT / "examples" / "quickstart"
ENV = {**{k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "REGIE_DEBUG")}, "NO_COLOR": "1"}


@pytest.fixture
def estate(tmp_path: Path) -> Path:
    root = tmp_path / "estate"
    shutil.copytree(QUICKSTART, root)
    return root


def regie(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "regie", *args], cwd=cwd, capture_output=True, text=True, env=ENV, timeout=120
    )
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    return proc


EVAL = ("eval", "--policies", "policies", "--facts", "facts.yaml", "--waivers", "waivers.yaml")


def test_eval_ingests_replays_and_tells_what_changed(store_url: str, estate: Path) -> None:
    first = regie(*EVAL, "--store", store_url, cwd=estate)
    assert first.returncode == 1  # the example has deny-level violations; ingesting does not change that
    assert first.stdout.splitlines()[-1] == "store: 6 opened, 0 kept open, 0 resolved, 1 waived (record 1)"
    second = regie(*EVAL, "--store", store_url, "--format", "json", cwd=estate)
    assert json.loads(second.stdout)["summary"]["waived"] == 1  # stdout stays pure JSON
    assert "store: 0 opened, 6 kept open, 0 resolved, 1 waived (record 2)" in second.stderr

    same = regie("replay", "1", "--store", store_url, "--policies", "policies", cwd=estate)
    assert same.returncode == 0, same.stdout + same.stderr
    assert "same outcome" in same.stdout and "policy set unchanged" in same.stdout

    # Today's library drops the EU-region policy (lines 21-33 of the example, and the test naming it).
    path = estate / "policies" / "sovereignty.regie"
    lines = path.read_text().splitlines(keepends=True)
    kept = [line for n, line in enumerate(lines, 1) if not 21 <= n <= 34 and "eu_region" not in line]
    path.write_text("".join(kept))
    different = regie("replay", "1", "--store", store_url, "--policies", "policies", cwd=estate)
    assert different.returncode == 1, different.stdout + different.stderr
    assert "policy set changed" in different.stdout
    assert "- disappeared: quickstart.location.eu_region on terraform:prod.tfstate#aws_instance.portal" in (
        different.stdout
    )

    # A policy removed from the library no longer holds: its violations (one waived) resolve.
    third = regie(*EVAL, "--store", store_url, cwd=estate)
    assert "0 opened, 5 kept open, 2 resolved, 0 waived (record 3)" in third.stdout, third.stdout
    # Limited to one policy (--policy), a scan leaves the others' violations alone.
    only = regie(*EVAL, "--store", store_url, "--policy", "quickstart.continuity.exit_plan", cwd=estate)
    assert "0 opened, 1 kept open, 0 resolved, 0 waived (record 4)" in only.stdout, only.stdout


def test_replay_of_a_missing_record_or_a_bad_store_is_exit_2(store_url: str, estate: Path) -> None:
    missing = regie("replay", "42", "--store", store_url, "--policies", "policies", cwd=estate)
    assert missing.returncode == 2 and "record 42: no such record" in missing.stderr
    bad = regie("replay", "1", "--store", "postgresql://regie:pw@127.0.0.1:1/x", cwd=estate)
    assert bad.returncode == 2 and "cannot open the store" in bad.stderr and ":pw@" not in bad.stderr
    scan = regie("eval", "--facts", "facts.yaml", "--store", "mysql://x/y", cwd=estate)
    assert scan.returncode == 2 and "unsupported database" in scan.stderr


def test_store_waivers_apply_to_the_evaluation_and_the_store(store_url: str, estate: Path) -> None:
    with open_store(store_url) as store:
        store.create_waiver(
            policy="quickstart.jurisdiction.*", resource="*", reason="exit in progress", approved_by="CISO",
            expires="2099-01-01", created_by="alice",
        )  # fmt: skip
    run = regie(*EVAL, "--store", store_url, "--format", "json", cwd=estate)
    assert run.returncode == 0  # every deny-level violation is waived now, by the store's waiver
    waived = {v["policy"] for v in json.loads(run.stdout)["violations"] if v["waived"]}
    assert "quickstart.jurisdiction.classified_data" in waived
    assert "4 waived" in run.stderr


def test_scan_ingests_its_sources(store_url: str, estate: Path) -> None:
    facts = estate / "facts.json"
    regie_facts = regie(
        "eval", "--facts", "facts.yaml", "--policies", "policies", "--format", "json", cwd=estate
    )
    assert regie_facts.returncode in (0, 1)
    facts.write_text(json.dumps({"resources": []}))
    empty = regie("eval", "--facts", "facts.json", "--policies", "policies", "--store", store_url, cwd=estate)
    assert empty.returncode == 0 and "store: 0 opened" in empty.stdout


def test_an_admission_decision_replays(store_url: str) -> None:
    review = {
        "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
        "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
        "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
        "namespace": "payments",
        "operation": "CREATE",
        "userInfo": {"username": "alice"},
        "object": {
            "metadata": {"name": "api", "labels": {"app.kubernetes.io/part-of": "payments"}},
            "spec": {
                "template": {"spec": {"containers": [{"name": "api", "image": "docker.io/library/nginx:1"}]}}
            },
        },
    }
    modules, _ = load_modules([str(BUILTIN_POLICIES)])
    policy_set = PolicySet.build(modules)
    assert isinstance(policy_set, PolicySet)
    catalogs = load_catalogs()
    resources = resources_from_admission(
        {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": review},
        where="review",
        catalogs=catalogs,
    )
    evaluation = evaluate(policy_set, Inventory(resources), catalogs, context="admission")
    with open_store(store_url) as store:
        record = store.record_admission(
            review,
            allowed=not evaluation.blocking,
            messages=[v.message for v in evaluation.blocking],
            policy_set_hash=policy_set_hash(policy_set, catalogs),
            violations=evaluation.violations,
        )
        result = replay_record(store, record.id, policy_set, catalogs)
        assert result.same and not result.policy_set_changed, render_replay(result)
        quickstart, _ = load_modules([str(QUICKSTART / "policies")])
        other = PolicySet.build(quickstart)
        assert isinstance(other, PolicySet)
        changed = replay_record(store, record.id, other, catalogs)
        assert changed.policy_set_changed
        assert changed.same == (not evaluation.violations)


def test_regie_verify_says_whether_the_chain_holds(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "regie.db"
    config = "examples/ministry/regie.toml"
    scanned = subprocess.run(
        [sys.executable, "-m", "regie", "scan", "--config", config, "--store", str(db)],
        cwd=ROOT, capture_output=True, text=True, env=ENV, timeout=120, check=False,
    )  # fmt: skip
    assert scanned.returncode == 1 and "store:" in scanned.stdout, scanned.stderr

    def verify() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "regie", "verify", "--store", str(db)],
            cwd=ROOT, capture_output=True, text=True, env=ENV, timeout=60, check=False,
        )  # fmt: skip

    intact = verify()
    assert intact.returncode == 0 and "chain intact: 1 records" in intact.stdout
    assert "head: record 1 " in intact.stdout
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE records SET decision = '{}' WHERE id = 1")
    broken = verify()
    assert broken.returncode == 1 and "chain broken at record 1" in broken.stderr
