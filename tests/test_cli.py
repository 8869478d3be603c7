"""The `regie` command line, run as a subprocess over real files, as CI and people run it.

Starting `regie` costs about a second (interpreter, imports, grammar), so the
read-only invocations are declared as data in ``RUNS`` and started together,
in parallel, the first time a test needs one; each test then asserts on its
run. Tests that change files (`fmt`) run on their own copy.

Every run is checked for a Python traceback: bad input must never show one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from regie.dsl.build import parse_module
from regie.dsl.source import Source

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "cli"

#: A stable environment: no colours, UTF-8 pipes, no debug tracebacks, no user configuration.
ENV = {
    **{k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "REGIE_DEBUG", "COLUMNS")},
    "NO_COLOR": "1",
    "PYTHONIOENCODING": "utf-8",
    "TERM": "dumb",
}


class Run(NamedTuple):
    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    def __str__(self) -> str:  # shown when an assertion about a run fails
        command = " ".join(self.args)
        return f"regie {command} -> exit {self.code}\n--- stdout\n{self.stdout}--- stderr\n{self.stderr}"


def regie(*args: str, cwd: Path, stdin: str | None = None) -> Run:
    proc = subprocess.run(
        [sys.executable, "-m", "regie", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=ENV,
        timeout=120,
        check=False,
    )
    return Run(tuple(args), proc.returncode, proc.stdout, proc.stderr)


def assert_clean(run: Run) -> Run:
    assert "Traceback" not in run.stderr and "Traceback" not in run.stdout, str(run)
    assert "internal error" not in run.stderr, str(run)
    return run


def make_estate(root: Path) -> Path:
    """The quick-start example (policies/, facts.yaml, waivers.yaml) and the CLI fixtures, in one folder."""
    quickstart = Path(__file__).resolve().parent.parent / "examples" / "quickstart"
    shutil.copytree(quickstart, root, dirs_exist_ok=True)
    shutil.copytree(FIXTURES, root, dirs_exist_ok=True)
    return root


QS = ("--policies", "policies")
CLASSIFIED = "quickstart.jurisdiction.classified_data"
CONCENTRATION = "quickstart.concentration.vital_service"
DB = "terraform:prod.tfstate#aws_db_instance.portal"
EVAL = ("eval", *QS, "--facts", "facts.yaml", "--today", "2026-06-01")

#: Exit 2 on bad input: (id, arguments, text that stderr must contain).
BAD_INPUT: list[tuple[str, tuple[str, ...], str]] = [
    ("invalid JSON", ("eval", *QS, "--facts", "bad.json"), "regie: error: bad.json:2:11: invalid JSON"),
    ("invalid YAML", ("eval", *QS, "--facts", "bad.yaml"), "regie: error: bad.yaml:3:4: invalid YAML"),
    (
        "resource without id",
        ("eval", *QS, "--facts", "no_id.yaml"),
        "regie: error: no_id.yaml: resources[0]: a resource needs a non-empty string `id`",
    ),
    (
        "missing facts file",
        ("eval", *QS, "--facts", "missing.yaml"),
        "regie: error: missing.yaml: No such file",
    ),
    (
        "--param of the wrong type",
        (*EVAL, "--param", f"{CONCENTRATION}.max_share=high"),
        f"parameter `{CONCENTRATION}.max_share` must be `float`",
    ),
    (
        "--param for an unknown policy",
        (*EVAL, "--param", "quickstart.concentration.vital_servic.max_share=0.5"),
        f"did you mean `{CONCENTRATION}`?",
    ),
    (
        "--param for an unknown parameter",
        (*EVAL, "--param", f"{CONCENTRATION}.max_shar=0.5"),
        f"policy `{CONCENTRATION}` has no parameter `max_shar`",
    ),
    (
        "policy syntax error",
        ("eval", "--policies", "mixed/broken.regie", "--facts", "facts.yaml"),
        "mixed/broken.regie:6:16: error[REG-P001]",
    ),
    (
        "waiver without expiry",
        (*EVAL, "--waivers", "bad_waivers.yaml"),
        "regie: error: bad_waivers.yaml: waivers[0].expires: a waiver needs `expires`",
    ),
    ("missing policy folder", ("check", "nowhere"), "regie: error: nowhere: no such file or folder"),
]

#: What `--help` of each command must mention.
HELP: dict[str, tuple[str, ...]] = {
    "": ("regie [OPTIONS] COMMAND", "check", "fmt", "test", "eval", "explain"),
    "check": ("regie check [OPTIONS]", "file:line:col"),
    "fmt": ("regie fmt [OPTIONS]", "--check", "--diff"),
    "test": ("regie test [OPTIONS]", "--junit", "-k"),
    "eval": (
        "regie eval [OPTIONS]",
        "--facts",
        "--policies",
        "--format",
        "--context",
        "--waivers",
        "--param",
    ),
    "explain": ("regie explain [OPTIONS]", "The policy id.", "--facts"),
    # a docstring's paragraph is reflowed, not broken where the source line ends
    "prune": (
        "regie prune [OPTIONS]",
        "--before",
        "--keep-days",
        "--dry-run",
        "the chain: a prune record in it",
    ),
}

RUNS: dict[str, tuple[tuple[str, ...], str | None]] = {
    # name: (arguments, file given on standard input)
    **{f"help {cmd}".strip(): (((cmd,) if cmd else ()) + ("--help",), None) for cmd in HELP},
    "check ok": (("check", "policies"), None),
    "check typos": (("check", "typos"), None),
    "check mixed": (("check", "mixed"), None),
    "check no default": (("check", "no_default.regie"), None),
    "test ok": (("test", "policies", "-v"), None),
    "test failing": (("test", "failing_tests.regie", "--junit", "report.xml"), None),
    "eval table": ((*EVAL, "--waivers", "waivers.yaml"), None),
    "eval json": ((*EVAL, "--waivers", "waivers.yaml", "--format", "json"), None),
    "eval audit": ((*EVAL, "--context", "audit", "--format", "json"), None),
    "eval param": (
        (
            *EVAL,
            "--param",
            f'{CLASSIFIED}.levels={{"BBN3"}}',
            "--param",
            f"{CONCENTRATION}.max_share=1.0",
            "--format",
            "json",
        ),
        None,
    ),
    "eval stdin": (("eval", *QS, "--facts", "-", "--today", "2026-06-01", "--format", "json"), "facts.yaml"),
    "eval expired waivers": (
        ("eval", *QS, "--facts", "facts.yaml", "--waivers", "stale_waivers.yaml", "--today", "2027-04-01"),
        None,
    ),
    "explain violation": (("explain", CLASSIFIED, DB, *QS, "--facts", "facts.yaml"), None),
    "explain pass": (
        (
            "explain",
            CLASSIFIED,
            "terraform:prod.tfstate#scaleway_object_bucket.archive",
            *QS,
            "--facts",
            "facts.yaml",
        ),
        None,
    ),
    "explain group": (
        ("explain", CONCENTRATION, "service:citizen-portal", *QS, "--facts", "facts.yaml"),
        None,
    ),
    "explain unknown group": (("explain", CONCENTRATION, "service:nope", *QS, "--facts", "facts.yaml"), None),
    **{f"bad input: {name}": (args, None) for name, args, _ in BAD_INPUT},
}


class Runs:
    """The results of RUNS, each checked for tracebacks when a test reads it."""

    def __init__(self, estate: Path, results: Mapping[str, Run]) -> None:
        self.estate = estate
        self._results = results

    def __getitem__(self, name: str) -> Run:
        return assert_clean(self._results[name])


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    estate = make_estate(tmp_path_factory.mktemp("estate"))

    def start(args: tuple[str, ...], stdin: str | None) -> Run:
        return regie(*args, cwd=estate, stdin=(estate / stdin).read_text(encoding="utf-8") if stdin else None)

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        futures = {name: pool.submit(start, *spec) for name, spec in RUNS.items()}
        return Runs(estate, {name: f.result() for name, f in futures.items()})


def eval_json(run: Run) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(run.stdout)
    return data


# --- help ----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", list(HELP), ids=[c or "regie" for c in HELP])
def test_help(command: str, runs: Runs) -> None:
    run = runs[f"help {command}".strip()]
    assert run.code == 0, run
    for text in HELP[command]:
        assert text in run.stdout, run


# --- check ---------------------------------------------------------------------------------


def test_check_passes(runs: Runs) -> None:
    run = runs["check ok"]
    assert run.code == 0, run
    assert run.stdout.strip() == "1 file: 4 policies and 7 tests check"
    assert run.stderr == ""


def test_check_prints_every_error_with_its_location(runs: Runs) -> None:
    run = runs["check typos"]
    assert run.code == 2, run
    heads = [line for line in run.stderr.splitlines() if ": error[" in line]
    assert heads == [
        "typos/a.regie:6:11: error[REG-T002]: `Resource` has no field `regon`",
        "typos/a.regie:7:24: error[REG-T001]: unknown name `euu`",
        "typos/b.regie:4:12: error[REG-P003]: `hihg` is not a valid `severity`",
    ]
    assert "6 |   where r.regon != null" in run.stderr
    assert "= help: did you mean `region`?" in run.stderr
    assert run.stderr.rstrip().endswith("3 errors")
    assert run.stdout == ""


def test_check_reports_the_errors_of_every_file_at_once(runs: Runs) -> None:
    """A syntax error in one file must not hide the type errors of the others."""
    run = runs["check mixed"]
    assert run.code == 2, run
    assert "mixed/broken.regie:6:16: error[REG-P001]" in run.stderr
    assert "mixed/typo.regie:7:13: error[REG-T002]: `Resource` has no field `ownr`" in run.stderr
    assert run.stderr.rstrip().endswith("2 errors")


def test_check_reports_a_parameter_without_value(runs: Runs) -> None:
    run = runs["check no default"]
    assert run.code == 2, run
    assert "parameter `demo.concentration.share.max_share` has no default and no value" in run.stderr


# --- fmt -----------------------------------------------------------------------------------


def test_fmt_check_accepts_the_quickstart_example(tmp_path: Path) -> None:
    """`make policy-tests` runs `regie fmt --check examples/quickstart/policies`."""
    estate = make_estate(tmp_path)
    before = (estate / "policies" / "sovereignty.regie").read_text(encoding="utf-8")
    run = assert_clean(regie("fmt", "--check", "policies", cwd=estate))
    assert run.code == 0, run
    assert "all files formatted" in run.stdout
    assert (estate / "policies" / "sovereignty.regie").read_text(encoding="utf-8") == before


def test_fmt_check_finds_a_file_to_reformat_and_changes_nothing(tmp_path: Path) -> None:
    estate = make_estate(tmp_path)
    before = (estate / "unformatted.regie").read_text(encoding="utf-8")
    run = assert_clean(regie("fmt", "--check", "unformatted.regie", cwd=estate))
    assert run.code == 1, run
    assert run.stdout.strip() == "would reformat unformatted.regie"
    assert (estate / "unformatted.regie").read_text(encoding="utf-8") == before


def test_fmt_diff_shows_the_change_and_changes_nothing(tmp_path: Path) -> None:
    estate = make_estate(tmp_path)
    before = (estate / "unformatted.regie").read_text(encoding="utf-8")
    run = assert_clean(regie("fmt", "--diff", "unformatted.regie", cwd=estate))
    assert run.code == 1, run
    assert "--- unformatted.regie (now)" in run.stdout
    assert "+++ unformatted.regie (formatted)" in run.stdout
    assert (estate / "unformatted.regie").read_text(encoding="utf-8") == before


def test_fmt_rewrites_keeps_meaning_and_comments_and_is_idempotent(tmp_path: Path) -> None:
    estate = make_estate(tmp_path)
    path = estate / "unformatted.regie"
    before = path.read_text(encoding="utf-8")
    run = assert_clean(regie("fmt", "unformatted.regie", cwd=estate))
    assert run.code == 0, run
    assert "reformatted unformatted.regie" in run.stdout
    after = path.read_text(encoding="utf-8")
    assert after != before
    old, new = parse_module(Source("before", before)), parse_module(Source("after", after))
    assert not isinstance(new, list)
    assert new == old  # the same tree (spans take no part in equality)
    assert [c.text for c in new.comments] == ["# keep this comment", "# and this one"]
    again = assert_clean(regie("fmt", "--check", "unformatted.regie", cwd=estate))
    assert again.code == 0, again


def test_fmt_reports_a_file_that_does_not_parse(tmp_path: Path) -> None:
    estate = make_estate(tmp_path)
    run = assert_clean(regie("fmt", "--check", "mixed/broken.regie", cwd=estate))
    assert run.code == 2, run
    assert "mixed/broken.regie:6:16: error[REG-P001]" in run.stderr


# --- test ----------------------------------------------------------------------------------


def test_test_passes(runs: Runs) -> None:
    run = runs["test ok"]
    assert run.code == 0, run
    assert (
        "PASS policies/sovereignty.regie:68 classified data at a US-parented provider in Frankfurt is flagged"
        in run.stdout
    )
    assert run.stdout.count("PASS ") == 7
    assert "7 passed, 0 failed" in run.stdout


def test_test_failure_is_printed_with_its_location(runs: Runs) -> None:
    run = runs["test failing"]
    assert run.code == 1, run
    assert "FAIL failing_tests.regie:20 a bucket in NL is flagged, which is wrong" in run.stdout
    assert (
        "failing_tests.regie:22:3: expected a violation of `demo.eu_region` on `b2`, got none" in run.stdout
    )
    assert "PASS" not in run.stdout  # passing tests are listed with -v only
    assert "1 passed, 1 failed" in run.stdout


def test_test_writes_junit_xml(runs: Runs) -> None:
    assert runs["test failing"].code == 1
    root = ET.parse(runs.estate / "report.xml").getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures")) == ("2", "1")
    (suite,) = root.findall("testsuite")
    assert (suite.get("name"), suite.get("tests"), suite.get("failures")) == ("failing_tests.regie", "2", "1")
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert set(cases) == {"a bucket in the US is flagged", "a bucket in NL is flagged, which is wrong"}
    assert cases["a bucket in the US is flagged"].find("failure") is None
    failure = cases["a bucket in NL is flagged, which is wrong"].find("failure")
    assert failure is not None
    assert (
        failure.get("message")
        == "failing_tests.regie:22:3: expected a violation of `demo.eu_region` on `b2`, got none"
    )
    assert cases["a bucket in NL is flagged, which is wrong"].get("line") == "20"
    assert float(suite.get("time") or "nan") >= 0


# --- eval ----------------------------------------------------------------------------------


def test_eval_table(runs: Runs) -> None:
    run = runs["eval table"]
    assert run.code == 1, run  # deny-level violations that no waiver covers
    out = run.stdout
    for text in (
        CLASSIFIED,
        CONCENTRATION,
        "quickstart.location.eu_region",
        "quickstart.continuity.exit_plan",
    ):
        assert text in out
    assert "waived (W-2026-007)" in out
    assert "warn (unknown)" in out
    assert "5 violations (3 deny, 2 warn, 0 advisory), 1 unknown, 1 waived; 7 resources, 4 policies" in out
    assert run.stderr == ""


def test_eval_json(runs: Runs) -> None:
    run = runs["eval json"]
    assert run.code == 1, run
    data = eval_json(run)
    assert data["version"] == 1
    assert data["context"] is None
    summary = data["summary"]
    assert {
        k: summary[k] for k in ("resources", "policies", "violations", "blocking", "unknown", "waived")
    } == {
        "resources": 7,
        "policies": 4,
        "violations": 5,
        "blocking": 3,
        "unknown": 1,
        "waived": 1,
    }
    assert isinstance(summary["seconds"], float)
    violations = data["violations"]
    assert len(violations) == 7
    for v in violations:
        assert {
            "policy",
            "resource",
            "message",
            "source",
            "evidence",
            "enforcement",
            "outcome",
            "waived",
        } <= set(v)
    db = next(v for v in violations if v["policy"] == CLASSIFIED and v["resource"] == DB)
    assert db["enforcement"] == "deny"
    assert db["outcome"] == "violation"
    assert (
        db["message"] == "BBN2 data at Amazon Web Services, whose parent Amazon.com, Inc. falls under US law"
    )
    assert db["source"].startswith("Rijksbreed cloudbeleid 2022")
    assert db["severity"] == "high"
    assert db["requirements"] == ["CLOUD-01", "CSBN-01"]
    assert db["titles"] == {"en": "Classified data only at providers under EU jurisdiction"}
    assert db["evidence"]["p.parent_jurisdiction"] == "US"
    assert db["service"] == "citizen-portal"
    assert db["waived"] is False and db["waiver"] is None
    unknown = next(v for v in violations if v["outcome"] == "unknown")
    assert unknown["resource"] == "terraform:plan.json#aws_s3_bucket.new"
    assert unknown["reason"] == "known after apply"
    assert unknown["enforcement"] == "warn"
    waived = next(v for v in violations if v["waived"])
    assert waived["waiver"]["id"] == "W-2026-007"
    assert data["waivers"] == [
        {
            "id": "W-2026-007",
            "policy": "quickstart.location.eu_region",
            "resource": "terraform:prod.tfstate#aws_instance.portal",
            "service": None,
            "reason": "Migration to eu-central-1 planned for Q1 2027 (change CHG-4411)",
            "approved_by": "CISO, Ministry of Examples",
            "expires": "2027-03-31",
            "matched": 1,
            "expired": False,
            "where": "waivers.yaml: waivers[0]",
        }
    ]
    assert data["errors"] == []
    # Deny first: the order people act in.
    assert [v["enforcement"] for v in violations[:3]] == ["deny", "deny", "deny"]


def test_eval_context_changes_enforcement(runs: Runs) -> None:
    run = runs["eval audit"]
    assert run.code == 0, run  # `enforce.audit warn`: nothing blocks an audit
    data = eval_json(run)
    assert data["context"] == "audit"
    assert data["summary"]["blocking"] == 0
    classified = [v for v in data["violations"] if v["policy"] == CLASSIFIED]
    assert len(classified) == 3
    assert {v["enforcement"] for v in classified} == {"warn"}


def test_eval_param_overrides_a_parameter(runs: Runs) -> None:
    run = runs["eval param"]
    assert run.code == 0, run
    policies = {v["policy"] for v in eval_json(run)["violations"]}
    assert CLASSIFIED not in policies  # only BBN3 counts now, and the BBN3 bucket is at an EU provider
    assert CONCENTRATION not in policies  # a share of 100% is allowed now
    assert "quickstart.continuity.exit_plan" in policies


def test_eval_reads_facts_from_stdin(runs: Runs) -> None:
    run = runs["eval stdin"]
    assert run.code == 1, run
    summary = eval_json(run)["summary"]
    assert (summary["resources"], summary["blocking"]) == (7, 3)


def test_eval_reports_expired_and_unused_waivers(runs: Runs) -> None:
    run = runs["eval expired waivers"]
    assert run.code == 1, run
    assert "waiver W-2026-007 expired on 2027-03-31 (stale_waivers.yaml: waivers[0])" in run.stdout
    assert "waiver W-stale matches nothing (stale_waivers.yaml: waivers[1])" in run.stdout
    assert "waived (" not in run.stdout
    assert "6 violations (3 deny, 3 warn, 0 advisory), 1 unknown, 0 waived" in run.stdout


@pytest.mark.parametrize(
    ("name", "expected"), [(n, e) for n, _, e in BAD_INPUT], ids=[n for n, _, _ in BAD_INPUT]
)
def test_bad_input_exits_2_with_one_clear_message(name: str, expected: str, runs: Runs) -> None:
    run = runs[f"bad input: {name}"]
    assert run.code == 2, run
    assert expected in run.stderr, run
    assert run.stdout == "", run


def test_bad_param_value_names_the_option_not_a_file_position(runs: Runs) -> None:
    """docs/cli.md: `regie: error: --param cloud.x.max_share=high: parameter must be `float``."""
    run = runs["bad input: --param of the wrong type"]
    assert run.code == 2, run
    assert f"--param {CONCENTRATION}.max_share=high" in run.stderr
    assert ":1:1:" not in run.stderr  # an option has no line and column


# --- explain -------------------------------------------------------------------------------


def test_explain_a_violation(runs: Runs) -> None:
    run = runs["explain violation"]
    assert run.code == 0, run
    lines = [line.strip() for line in run.stdout.splitlines()]
    assert (
        lines[0] == f"{CLASSIFIED} on {DB}: Gerubriceerde gegevens alleen bij aanbieders onder EU-jurisdictie"
    )
    assert f"for r in resources  → {DB}" in lines
    assert "✓ where r.classification in levels  → true" in lines
    assert any(
        line.startswith("let p = providers[r.provider]  → {name: Amazon Web Services") for line in lines
    )
    assert "✗ require p.parent_jurisdiction in eu  → false" in lines
    assert lines[-1] == "outcome: violation"


def test_explain_a_passing_resource(runs: Runs) -> None:
    run = runs["explain pass"]
    assert run.code == 0, run
    lines = [line.strip() for line in run.stdout.splitlines()]
    assert "✓ require p.parent_jurisdiction in eu  → true" in lines
    assert lines[-1] == "outcome: pass"


def test_explain_a_group(runs: Runs) -> None:
    run = runs["explain group"]
    assert run.code == 0, run
    lines = [line.strip() for line in run.stdout.splitlines()]
    assert "group by r.service as service into rs  → 3 members" in lines
    assert "✓ where any(x in rs: x.vital)  → true" in lines
    assert "let top = most_common(x in rs: x.provider)  → aws" in lines
    assert "✗ require share(x in rs: x.provider == top) <= max_share  → false" in lines
    assert lines[-1] == "outcome: violation"


def test_explain_an_unknown_group_lists_the_groups(runs: Runs) -> None:
    run = runs["explain unknown group"]
    assert run.code == 2, run
    assert "regie: error: no group `service:nope`; groups are service:citizen-portal, " in run.stderr
